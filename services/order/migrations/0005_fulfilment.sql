-- Fulfilment: a confirmed order is shipped (with its carrier and tracking number), then
-- delivered.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN
    ('PENDING', 'RESERVED', 'CONFIRMED', 'REJECTED', 'CANCELLED', 'SHIPPED', 'DELIVERED'));
ALTER TABLE orders
    ADD COLUMN carrier         text,
    ADD COLUMN tracking_number text;
