-- Accounts and their credentials.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    -- Normalised (trimmed, lower-case) by the domain before it gets here; the unique index
    -- below makes "Ann@Example.com" and "ann@example.com" one account even if that ever slips.
    email         text        NOT NULL,
    name          text        NOT NULL,
    -- An argon2id PHC string ($argon2id$v=19$m=19456,t=2,p=1$salt$hash); never the password.
    password_hash text        NOT NULL,
    roles         text[]      NOT NULL DEFAULT ARRAY['customer'],
    -- Brute-force protection: consecutive failed logins, and no login before locked_until.
    failed_logins integer     NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
