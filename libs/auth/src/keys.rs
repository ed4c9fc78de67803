//! Ed25519 key material: generation, encodings, and the public JWK form.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;

use crate::jwks::PublicJwk;

/// A new Ed25519 key pair.
#[derive(Clone)]
pub struct KeyPair {
    /// The private key, PKCS#8 DER: what the signer needs.
    pub private_pkcs8_der: Vec<u8>,
    /// The raw 32-byte public key: what the JWK carries.
    pub public_key: [u8; 32],
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_key", &URL_SAFE_NO_PAD.encode(self.public_key))
            .finish_non_exhaustive()
    }
}

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("cannot encode the key: {0}")]
    Encoding(String),
}

/// Generates a key pair from the operating system's random source.
pub fn generate() -> Result<KeyPair, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|err| KeyError::Random(err.to_string()))?;
    let signing = SigningKey::from_bytes(&seed);
    let der = signing
        .to_pkcs8_der()
        .map_err(|err| KeyError::Encoding(err.to_string()))?;
    Ok(KeyPair {
        private_pkcs8_der: der.as_bytes().to_vec(),
        public_key: signing.verifying_key().to_bytes(),
    })
}

/// The public JWK (RFC 8037) of a key.
pub fn public_jwk(kid: &str, public_key: &[u8]) -> PublicJwk {
    PublicJwk {
        kty: "OKP".to_owned(),
        crv: "Ed25519".to_owned(),
        x: URL_SAFE_NO_PAD.encode(public_key),
        kid: kid.to_owned(),
        alg: "EdDSA".to_owned(),
        key_use: "sig".to_owned(),
    }
}

/// `n` random bytes, base64url without padding: opaque tokens and ids.
pub fn random_token(bytes: usize) -> Result<String, KeyError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|err| KeyError::Random(err.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}
