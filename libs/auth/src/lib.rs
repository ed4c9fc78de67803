//! Authentication for every Ferris Shop service: the user service signs, everyone verifies.
//!
//! - [`TokenSigner`] issues EdDSA (Ed25519) access tokens; [`keys`] makes and encodes keys.
//! - [`TokenVerifier`] accepts exactly one algorithm, requires `iss`, `aud`, `exp` and `sub`,
//!   allows at most 30 s of clock skew, finds keys by `kid` in a [`JwksCache`] that refreshes on
//!   an unknown `kid` (one fetch at a time, rate-limited), and consults a revocation
//!   [`Denylist`].
//! - [`grpc`] checks bearer tokens on gRPC servers and forwards them on client calls;
//!   [`http`] has the axum extractors of the gateway.
//!
//! Rejections are logged at debug with their reason; callers only ever learn
//! UNAUTHENTICATED / PERMISSION_DENIED (401 / 403).

mod caller;
mod claims;
mod denylist;
pub mod grpc;
pub mod http;
mod jwks;
pub mod keys;
mod settings;
mod signer;
mod verifier;

pub use caller::Caller;
pub use claims::{Claims, Role};
pub use denylist::{Denylist, RedisDenylist};
pub use jwks::{GrpcKeySource, JwksCache, KeySource, PublicJwk, StaticKeySource};
pub use settings::AuthSettings;
pub use signer::{IssuedToken, TokenSigner};
pub use verifier::{AuthError, TokenVerifier};
