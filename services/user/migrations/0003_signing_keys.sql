-- The Ed25519 keys that sign access tokens. The newest unretired key signs; every key that is
-- unretired, or retired recently enough that tokens it signed may still be alive, is published
-- in the JWKS.
CREATE TABLE signing_key (
    kid         text PRIMARY KEY,
    -- PKCS#8 DER. Kept in the service's own database, readable only by this service; a
    -- deployment with a KMS would encrypt this column with a key from it.
    private_key bytea       NOT NULL,
    -- The raw 32-byte public key, published as the JWK `x`.
    public_key  bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
