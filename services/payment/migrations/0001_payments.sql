-- Payments: at most one per order, moved through its states by the charge and refund use
-- cases. The card token is never stored.
CREATE TABLE payment (
    id                 uuid PRIMARY KEY,
    -- One payment per order: the idempotency key of Charge and Refund.
    order_id           uuid        NOT NULL UNIQUE,
    -- The owner of the order, who may read the payment.
    user_id            uuid        NOT NULL,
    status             text        NOT NULL CHECK (status IN ('PENDING', 'AUTHORIZED', 'CAPTURED', 'DECLINED', 'REFUNDED', 'FAILED')),
    amount_minor       bigint      NOT NULL CHECK (amount_minor > 0),
    currency           text        NOT NULL,
    -- The card processor's reference for the authorization, once it has one.
    provider_reference text,
    failure_reason     text,
    -- Whoever holds an unexpired lease is talking to the card processor for this payment;
    -- concurrent Charge calls wait for its outcome instead of calling the processor too. A
    -- lease that outlives a crashed holder simply expires.
    lease_until        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    refunded_at        timestamptz,
    refund_reason      text
);

CREATE INDEX payment_user ON payment (user_id);
