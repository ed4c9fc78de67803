-- Admins list every customer's orders, newest first, optionally by status
-- (ListOrders without customer_id): keyset pages over these indexes.
CREATE INDEX orders_by_time ON orders (created_at DESC, id DESC);
CREATE INDEX orders_by_status ON orders (status, created_at DESC, id DESC);
