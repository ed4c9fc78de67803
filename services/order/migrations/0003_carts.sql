-- Every customer's cart: durable, the same from every device and session. One row per
-- customer (locked while its lines change, so the line bound holds under concurrent adds) and
-- one per product in it.
CREATE TABLE cart (
    user_id    uuid PRIMARY KEY,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cart_line (
    user_id                uuid        NOT NULL REFERENCES cart (user_id) ON DELETE CASCADE,
    product_id             uuid        NOT NULL,
    quantity               bigint      NOT NULL CHECK (quantity > 0),
    -- The unit price the customer last saw for this line (when it was added or its quantity
    -- last set): the cart flags the line when the catalog's price has moved since.
    seen_price_minor       bigint      NOT NULL,
    seen_currency          text        NOT NULL,
    added_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, product_id)
);
