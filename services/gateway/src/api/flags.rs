//! The back office's view of the runtime flags: the flag file as the gateway last read it
//! (the same file the backends read, mounted into the gateway too). Read-only: flags change by
//! editing the file (a ConfigMap on Kubernetes), so the change is reviewed and versioned like
//! any other configuration, and nothing in the shop can flip a fault on over HTTP.

use axum::Json;
use axum::extract::State;
use shop_auth::http::AdminUser;

use super::dto::{Flag, FlagList, FlagVariant, ProblemDoc};
use super::state::AppState;

/// The runtime flags and the variant each is set to (admin).
#[utoipa::path(operation_id = "list_flags", get, path = "/api/v1/admin/flags", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = FlagList, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"),
              (status = 403, body = ProblemDoc, description = "Not allowed (problem+json)")))]
pub async fn list(State(state): State<AppState>, AdminUser(_admin): AdminUser) -> Json<FlagList> {
    let flags = state
        .flags
        .listing()
        .into_iter()
        .map(|flag| Flag {
            key: flag.key,
            enabled: flag.enabled,
            variant: flag.variant,
            value: flag.value,
            variants: flag
                .variants
                .into_iter()
                .map(|(name, value)| FlagVariant { name, value })
                .collect(),
            description: flag.description,
        })
        .collect();
    Json(FlagList {
        from_file: state.flags.from_file(),
        flags,
    })
}
