//! Building gRPC statuses the same way everywhere: field violations for bad input, a reason
//! for refused preconditions, and opaque internals.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::validation::Violations;

/// The domain (`google.rpc.ErrorInfo.domain`) of every reason the shop reports.
pub const ERROR_DOMAIN: &str = "ferris-shop.dev";

/// INVALID_ARGUMENT with a `google.rpc.BadRequest` listing every bad field.
pub fn invalid_argument(violations: &Violations) -> Status {
    let field_violations: Vec<tonic_types::FieldViolation> = violations
        .iter()
        .map(|v| tonic_types::FieldViolation::new(v.field.clone(), v.message.clone()))
        .collect();
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid request: {violations}"),
        ErrorDetails::with_bad_request(field_violations),
    )
}

/// A status with a machine-readable `google.rpc.ErrorInfo` reason (`OUT_OF_STOCK`), plus
/// metadata naming what it is about (`product_id`).
pub fn with_reason(
    code: Code,
    reason: &str,
    message: impl Into<String>,
    metadata: &[(&str, String)],
) -> Status {
    let metadata = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect::<std::collections::HashMap<_, _>>();
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata),
    )
}

/// INTERNAL for a fault the caller cannot fix. The cause goes to the log (with the trace id of
/// the current span); the caller gets an opaque message. A fault that is the service's database
/// being unreachable is UNAVAILABLE instead: the same call will succeed once it is back, which
/// is what that code tells a client (the gateway answers 503 with `Retry-After`).
pub fn internal(err: &anyhow::Error) -> Status {
    if crate::postgres::unreachable(err) {
        tracing::warn!(error = format!("{err:#}"), "database unreachable");
        return Status::unavailable("the service's database is unreachable; retry shortly");
    }
    tracing::error!(error = format!("{err:#}"), "internal error");
    Status::internal("internal error")
}

/// The `google.rpc.ErrorInfo` reason of a status, if it has one.
pub fn reason_of(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

/// The `google.rpc.BadRequest` violations of a status, as (field, message) pairs.
pub fn violations_of(status: &Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// The `google.rpc.ErrorInfo` metadata value `key` of a status.
pub fn metadata_of(status: &Status, key: &str) -> Option<String> {
    status
        .get_details_error_info()
        .and_then(|info| info.metadata.get(key).cloned())
}

#[cfg(test)]
mod tests {
    use anyhow::Context as _;
    use tonic::Code;

    use super::internal;

    #[test]
    fn an_unreachable_database_is_unavailable_and_any_other_fault_internal() {
        let gone: anyhow::Result<()> = Err(sqlx::Error::PoolTimedOut).context("reading the order");
        let status = internal(&gone.unwrap_err());
        assert_eq!(status.code(), Code::Unavailable);

        let refused = anyhow::Error::new(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(internal(&refused).code(), Code::Unavailable);

        let bug = anyhow::anyhow!("an invariant broke");
        let status = internal(&bug);
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(
            status.message(),
            "internal error",
            "the cause stays in the log"
        );
        assert_eq!(
            internal(&anyhow::Error::new(sqlx::Error::RowNotFound)).code(),
            Code::Internal
        );
    }
}
