//! Authentication for every Ferris Shop service: the user service signs, everyone verifies.
//!
//! - [`TokenSigner`] issues EdDSA (Ed25519) access tokens; [`keys`] makes and encodes keys.
//! - [`TokenVerifier`] accepts exactly one algorithm, requires `iss`, `aud`, `exp` and `sub`,
//!   allows at most 30 s of clock skew, finds keys by `kid` in a [`JwksCache`] that refreshes on
//!   an unknown `kid` (one fetch at a time, rate-limited), and consults a revocation
//!   [`Denylist`].
//! - [`grpc`] authorizes every gRPC call by the service's access table
//!   ([`shop_platform::access`]) before the handler runs; [`http`] has the axum extractors of
//!   the gateway.
//! - [`ServiceIdentity`] is a service's own principal: a short-lived service token from the
//!   user service, renewed in the background and attached to the service's outgoing calls.
//!
//! Rejections are logged at debug with their reason; callers only ever learn
//! UNAUTHENTICATED / PERMISSION_DENIED (401 / 403).

mod caller;
mod claims;
mod denylist;
pub mod grpc;
pub mod http;
mod identity;
mod jwks;
pub mod keys;
mod settings;
mod signer;
mod verifier;

pub use caller::{Caller, Principal, ServiceCaller, is_service_name};
pub use claims::{Claims, Role, SERVICE_SUBJECT_PREFIX};
pub use denylist::{Denylist, DenylistError, RedisDenylist};
pub use identity::{
    AttachServiceToken, IdentifiedChannel, IdentityRenewal, IdentitySettings, MIN_SECRET_LEN,
    ServiceIdentity,
};
pub use jwks::{GrpcKeySource, JwksCache, KeySource, PublicJwk, StaticKeySource};
pub use settings::AuthSettings;
pub use signer::{IssuedToken, TokenSigner};
pub use verifier::{AuthError, TokenVerifier};
