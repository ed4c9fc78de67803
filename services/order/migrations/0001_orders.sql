-- Orders and the state of their place-order saga. The order row is the saga log: its status
-- says which step comes next, and every step is idempotent by order id, so whoever drives the
-- saga (the request that placed it, or the recovery worker after a crash) can resume it.
CREATE TABLE orders (
    id                  uuid PRIMARY KEY,
    user_id             uuid        NOT NULL,
    -- The client's Idempotency-Key; (user_id, idempotency_key) identifies one PlaceOrder.
    idempotency_key     text        NOT NULL,
    -- SHA-256 of the normalised request: the same key with another body is refused.
    request_fingerprint bytea       NOT NULL,
    status              text        NOT NULL CHECK (status IN ('PENDING', 'RESERVED', 'CONFIRMED', 'REJECTED', 'CANCELLED')),
    -- Why the order was rejected or cancelled.
    reason              text,
    -- Set when the saga has decided to compensate (release stock, give money back) but has not
    -- finished: the recovery worker finishes it.
    compensation        text,
    -- The token the saga charges with; kept only while the saga may still need it.
    card_token          text,
    total_minor         bigint,
    currency            text,
    -- After this instant the saga is compensated, never confirmed.
    saga_deadline       timestamptz NOT NULL,
    -- Who drives the saga now, and until when: a request or a recovery worker. A crashed
    -- driver's lease expires and the recovery worker takes over.
    lease_token         uuid,
    lease_until         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_idempotency_key UNIQUE (user_id, idempotency_key)
);

CREATE INDEX orders_by_user ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_in_flight ON orders (created_at) WHERE status IN ('PENDING', 'RESERVED');

-- What was ordered; priced (name, unit price) once inventory reserved it.
CREATE TABLE order_line (
    order_id         uuid   NOT NULL REFERENCES orders (id),
    product_id       uuid   NOT NULL,
    quantity         bigint NOT NULL CHECK (quantity > 0),
    name             text,
    unit_price_minor bigint,
    currency         text,
    PRIMARY KEY (order_id, product_id)
);

-- The order's history: append-only, shown by GetOrder.
CREATE TABLE order_event (
    id       bigserial PRIMARY KEY,
    order_id uuid        NOT NULL REFERENCES orders (id),
    at       timestamptz NOT NULL DEFAULT now(),
    event    text        NOT NULL,
    detail   text        NOT NULL DEFAULT ''
);

CREATE INDEX order_event_by_order ON order_event (order_id, id);
