-- A revoked session must reach the verifiers' denylist (Redis). The revocation is recorded
-- here first, in the same statement that revokes the family; this flag says whether it has
-- been published since. The publisher retries unpublished ones, and republishes every recent
-- revocation when the denylist lost its data (a Redis restart).
ALTER TABLE refresh_family ADD COLUMN revocation_published boolean NOT NULL DEFAULT false;

CREATE INDEX refresh_family_revoked_at ON refresh_family (revoked_at)
    WHERE revoked_at IS NOT NULL;
