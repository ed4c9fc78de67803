-- The transactional outbox: events written in the same transaction as the state change they
-- announce, and published to RabbitMQ afterwards by the relay.
CREATE TABLE outbox (
    -- The CloudEvents id, also the AMQP message_id: consumers deduplicate on it.
    id              uuid PRIMARY KEY,
    -- The event type, also the routing key on the topic exchange.
    routing_key     text        NOT NULL,
    -- The whole CloudEvents envelope in JSON structured mode, as it goes on the wire.
    payload         jsonb       NOT NULL,
    -- Trace context of the transaction that wrote the event (traceparent, tracestate), so the
    -- publish span joins the trace of the request that caused it.
    headers         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Failed publishes are retried with backoff: attempts so far and when to try next.
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    -- Set once the broker confirmed the message; published rows are pruned after a while.
    published_at    timestamptz
);

-- The relay only ever looks at pending rows, oldest first.
CREATE INDEX outbox_pending ON outbox (created_at) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Wake the relay as soon as a transaction that wrote events commits (NOTIFY is delivered at
-- commit, never for a rolled-back transaction). Once per statement, not per row.
CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('shop_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify
AFTER INSERT ON outbox
FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
