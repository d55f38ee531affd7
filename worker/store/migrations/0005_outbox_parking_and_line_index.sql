-- Messages the broker refused for good (too large, topic unknown or not allowed): moved
-- here by the relay with the broker's error, so that what follows them is published.
-- Nothing is lost: an operator moves a row back to the outbox once the cause is fixed
-- (README, "Operating it").
CREATE TABLE IF NOT EXISTS outbox_parked (
    id          bigint      PRIMARY KEY,            -- its id in the outbox
    topic       text        NOT NULL,
    key         bytea,
    value       bytea,
    headers     jsonb       NOT NULL DEFAULT '[]',
    event_time  timestamptz,
    created_at  timestamptz NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    error       text        NOT NULL
);

-- Loading an order's invoices reads their lines by order: without this, every batch with a
-- command scanned all of invoice_lines (the partial unique index serves only live lines).
CREATE INDEX IF NOT EXISTS invoice_lines_order_id ON invoice_lines (order_id);
