-- Where an order ships, how, and what shipping costs; its subtotal beside the total it is
-- charged; and whether it checked out the customer's cart (whose lines it removes once
-- confirmed). Orders placed before checkout asked for an address keep these empty.
ALTER TABLE orders
    ADD COLUMN ship_name        text,
    ADD COLUMN ship_line1       text,
    ADD COLUMN ship_line2       text,
    ADD COLUMN ship_city        text,
    ADD COLUMN ship_postal_code text,
    ADD COLUMN ship_country     text,
    ADD COLUMN shipping_method  text CHECK (shipping_method IN ('standard', 'express')),
    ADD COLUMN shipping_minor   bigint,
    ADD COLUMN subtotal_minor   bigint,
    ADD COLUMN from_cart        boolean NOT NULL DEFAULT false;
