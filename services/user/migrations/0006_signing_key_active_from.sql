-- A new signing key is published before it signs: it appears in the JWKS at once and signs
-- from active_from on, so every verifier (and istiod, which refetches the JWKS on its own
-- schedule) has it before the first token it signed arrives. The key it replaces retires at
-- that same moment (retired_at = the new key's active_from). Keys made before this column
-- existed were active from their creation.
ALTER TABLE signing_key ADD COLUMN active_from timestamptz;
UPDATE signing_key SET active_from = created_at;
ALTER TABLE signing_key ALTER COLUMN active_from SET NOT NULL,
                        ALTER COLUMN active_from SET DEFAULT now();
