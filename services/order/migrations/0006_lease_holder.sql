-- Which replica holds a saga's lease, by its stable name (the pod's name). A replica that
-- restarts finds the leases its previous process left behind and takes them back at once
-- instead of waiting for them to expire: that process is dead. NULL when the replica has no
-- name (every lease then simply expires).
ALTER TABLE orders ADD COLUMN lease_holder text;
