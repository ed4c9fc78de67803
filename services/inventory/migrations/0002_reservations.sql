-- Reservations: stock held for one order while its saga runs. One per order.
CREATE TABLE reservation (
    order_id       uuid PRIMARY KEY,
    status         text        NOT NULL CHECK (status IN ('RESERVED', 'COMMITTED', 'RELEASED', 'EXPIRED')),
    -- Why a reservation was given back: 'saga' (compensation), 'expired' (TTL),
    -- 'cancelled' (the confirmed order was cancelled and its goods restocked).
    release_reason text,
    total_minor    bigint      NOT NULL,
    currency       text        NOT NULL,
    -- The safety net behind the saga: after this, the expiry worker gives the stock back.
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX reservation_expiry ON reservation (expires_at) WHERE status = 'RESERVED';

-- What was reserved, priced at the time: the order keeps these prices even if the catalog
-- changes afterwards.
CREATE TABLE reservation_line (
    order_id         uuid   NOT NULL REFERENCES reservation (order_id),
    product_id       uuid   NOT NULL REFERENCES product (id),
    name             text   NOT NULL,
    quantity         bigint NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL,
    currency         text   NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
