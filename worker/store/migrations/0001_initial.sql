-- Orders as upstream systems told us about them, and the invoices made from them.

CREATE TABLE IF NOT EXISTS orders (
    order_id            text PRIMARY KEY,
    order_code          text,
    currency            text        NOT NULL,
    prices_include_tax  boolean     NOT NULL,
    customer            jsonb       NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Amounts are unconstrained numeric: they keep the digits they were given ("12.050").
CREATE TABLE IF NOT EXISTS order_rows (
    order_id          text    NOT NULL REFERENCES orders,
    row_id            text    NOT NULL,
    position          integer NOT NULL,   -- order of first appearance within the order
    sku               text,
    name              text    NOT NULL,
    quantity          numeric NOT NULL,
    unit              text,
    unit_price        numeric NOT NULL,
    discount_percent  numeric NOT NULL,
    tax_rate          numeric NOT NULL,
    PRIMARY KEY (order_id, row_id)
);

CREATE TABLE IF NOT EXISTS invoices (
    invoice_id            uuid PRIMARY KEY,
    order_id              text        NOT NULL REFERENCES orders,
    type                  text        NOT NULL CHECK (type IN ('invoice', 'credit-note')),
    reference_invoice_id  uuid        REFERENCES invoices,
    status                text        NOT NULL
                          CHECK (status IN ('draft', 'open', 'paid', 'void', 'deleted')),
    version               integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    invoice_number        text        UNIQUE,
    order_code            text,
    currency              text        NOT NULL,
    prices_include_tax    boolean     NOT NULL,
    customer              jsonb       NOT NULL,
    note                  text,
    payment_terms_days    integer     NOT NULL,
    issue_date            date,
    due_date              date,
    closed_at             timestamptz,
    net_amount            numeric     NOT NULL,
    tax_amount            numeric     NOT NULL,
    gross_amount          numeric     NOT NULL,
    paid_amount           numeric     NOT NULL DEFAULT 0,
    credited_amount       numeric     NOT NULL DEFAULT 0,
    tax_breakdown         jsonb       NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- numbered exactly when closed; void keeps its number, a deleted draft never had one
    CHECK ((invoice_number IS NULL) = (status IN ('draft', 'deleted'))),
    CHECK ((invoice_number IS NULL) = (issue_date IS NULL))
);
CREATE INDEX IF NOT EXISTS invoices_order_id ON invoices (order_id);

CREATE TABLE IF NOT EXISTS invoice_lines (
    invoice_id        uuid    NOT NULL REFERENCES invoices ON DELETE CASCADE,
    line_no           integer NOT NULL CHECK (line_no >= 1),
    order_id          text    NOT NULL,
    order_row_id      text    NOT NULL,
    -- true while this line keeps its order row from going onto another invoice:
    -- lines of live invoices (draft, open, paid); false on credit notes, deleted and void.
    holds_row         boolean NOT NULL,
    sku               text,
    name              text    NOT NULL,
    quantity          numeric NOT NULL,
    unit              text,
    unit_price        numeric NOT NULL,
    discount_percent  numeric NOT NULL,
    tax_rate          numeric NOT NULL,
    net_amount        numeric NOT NULL,
    gross_amount      numeric,
    PRIMARY KEY (invoice_id, line_no),
    FOREIGN KEY (order_id, order_row_id) REFERENCES order_rows
);
-- The rule "an order row is on at most one live invoice", kept by the database itself.
CREATE UNIQUE INDEX IF NOT EXISTS invoice_lines_row_on_one_live_invoice
    ON invoice_lines (order_id, order_row_id) WHERE holds_row;

-- One counter per number series and year. Updated inside the closing transaction:
-- a rollback gives the number back, so the series has no gaps.
CREATE TABLE IF NOT EXISTS number_series (
    prefix       text    NOT NULL,
    year         integer NOT NULL,
    last_number  bigint  NOT NULL CHECK (last_number >= 0),
    PRIMARY KEY (prefix, year)
);

-- Every event with a usable (source, id), and what became of it. An event whose outcome
-- is dead-lettered is processed afresh when it comes again.
CREATE TABLE IF NOT EXISTS inbox (
    source        text        NOT NULL,
    event_id      text        NOT NULL,
    event_type    text        NOT NULL,
    outcome       text        NOT NULL
                  CHECK (outcome IN ('applied', 'rejected', 'dead-lettered')),
    result_key    bytea,      -- a command's result record, published again for a duplicate
    result_value  bytea,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);

-- Everything to publish, written in the same transaction as the change that caused it.
CREATE TABLE IF NOT EXISTS outbox (
    id          bigserial   PRIMARY KEY,
    topic       text        NOT NULL,
    key         bytea,
    value       bytea,                              -- null for a tombstone
    headers     jsonb       NOT NULL DEFAULT '[]',   -- [[name, value], ...]
    event_time  timestamptz,                        -- when the causing event happened
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Wakes the outbox relay when a transaction that wrote to the outbox commits.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('invoicer_outbox', '');
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
