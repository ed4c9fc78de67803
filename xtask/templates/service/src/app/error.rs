//! The errors of the {{name}} service's use cases; mapped to gRPC codes in one place, the
//! adapter.

use shop_kernel::Violations;

#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("no such note")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
