-- The inbox: one row per message a consumer has applied, written in the same transaction as
-- the handler's effects. A redelivered message finds its row and changes nothing.
CREATE TABLE processed_message (
    -- The consumer (its queue name): one message may be consumed by several services.
    consumer     text        NOT NULL,
    message_id   uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

CREATE INDEX processed_message_age ON processed_message (processed_at);
