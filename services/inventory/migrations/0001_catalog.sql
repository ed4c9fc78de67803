-- The catalog and its stock. Stock is three counters whose sum is what the shop has on hand;
-- the database itself refuses any change that breaks the accounting.
CREATE TABLE product (
    id          uuid PRIMARY KEY,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    -- Money is integer minor units plus an ISO 4217 code, never a float.
    price_minor bigint      NOT NULL CHECK (price_minor > 0),
    currency    text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    image_url   text        NOT NULL DEFAULT '',
    active      boolean     NOT NULL DEFAULT true,
    -- Units that can be reserved now.
    available   bigint      NOT NULL DEFAULT 0 CHECK (available >= 0),
    -- Units held for orders whose saga is running.
    reserved    bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    -- Units sold to confirmed orders.
    sold        bigint      NOT NULL DEFAULT 0 CHECK (sold >= 0),
    -- Net units ever received (stock adjustments); the three counters always add up to it.
    received    bigint      NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT product_stock_balances CHECK (available + reserved + sold = received)
);

-- Listing is by name then id (keyset pagination); the text query scans name and description.
CREATE INDEX product_listing ON product (lower(name), id);

-- Idempotency of admin writes: a retried CreateProduct or AdjustStock finds its request here.
CREATE TABLE product_request (
    request_id uuid PRIMARY KEY,
    product_id uuid        NOT NULL REFERENCES product (id),
    kind       text        NOT NULL CHECK (kind IN ('create', 'adjust')),
    delta      bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);
