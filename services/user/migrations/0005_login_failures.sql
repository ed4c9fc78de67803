-- Failed sign-ins, per email (whether or not an account has it) and client, and per email
-- from every client together (client '*'): a stranger's failures slow the stranger down,
-- not the account's owner, and unknown emails are throttled exactly like known ones.
CREATE TABLE login_failures (
    email        text        NOT NULL,
    client       text        NOT NULL,
    failures     integer     NOT NULL,
    last_failure timestamptz NOT NULL,
    locked_until timestamptz,
    PRIMARY KEY (email, client)
);

-- The per-account counters are replaced by the table above.
ALTER TABLE users DROP COLUMN failed_logins, DROP COLUMN locked_until;
