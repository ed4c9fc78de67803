-- Sessions: every login starts a family of refresh tokens; each refresh spends one token and
-- issues the next. Presenting a spent token means it was stolen (or replayed): the whole family
-- is revoked.
CREATE TABLE refresh_family (
    id             uuid PRIMARY KEY,
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    -- "logout", "reuse_detected", ...
    revoked_reason text
);

CREATE INDEX refresh_family_user ON refresh_family (user_id);

CREATE TABLE refresh_token (
    -- SHA-256 of the opaque token. Tokens are 256 random bits, so a fast hash is enough (and a
    -- slow one would only slow refreshes down); the token itself is never stored.
    token_hash bytea PRIMARY KEY,
    family_id  uuid        NOT NULL REFERENCES refresh_family (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    -- Set when the token is exchanged; a second exchange is a reuse.
    used_at    timestamptz
);

CREATE INDEX refresh_token_family ON refresh_token (family_id);
