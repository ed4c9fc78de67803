-- The simulated card processor's own ledger (adapters/simulated_processor.rs): what a real
-- processor keeps on its side, so an authorization survives a restart of the payment service
-- and is known to every replica. Not the payment service's data: nothing else reads it.
CREATE TABLE simulated_processor_ledger (
    key          uuid PRIMARY KEY,
    reference    text    NOT NULL,
    amount_minor bigint  NOT NULL,
    currency     text    NOT NULL,
    captured     boolean NOT NULL DEFAULT false,
    voided       boolean NOT NULL DEFAULT false,
    refunded     boolean NOT NULL DEFAULT false
);
