-- Sellers, buyers and tax categories (docs/contract.md), and the documents of closed invoices.

-- What the buyer stated about the purchase: buyerReference, purchaseOrderReference,
-- deliveryDate, deliveryAddress (the contract's names).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS purchase jsonb NOT NULL DEFAULT '{}';
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS purchase jsonb NOT NULL DEFAULT '{}';
-- The seller configured when the invoice was made; null: no documents.
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS seller jsonb;

-- VAT category (UNCL5305) and exemption; null on rows stored before: the rate's default.
ALTER TABLE order_rows ADD COLUMN IF NOT EXISTS tax_category text;
ALTER TABLE order_rows ADD COLUMN IF NOT EXISTS tax_exemption_reason text;
ALTER TABLE order_rows ADD COLUMN IF NOT EXISTS tax_exemption_reason_code text;
ALTER TABLE invoice_lines ADD COLUMN IF NOT EXISTS tax_category text;
ALTER TABLE invoice_lines ADD COLUMN IF NOT EXISTS tax_exemption_reason text;
ALTER TABLE invoice_lines ADD COLUMN IF NOT EXISTS tax_exemption_reason_code text;

-- An invoice whose documents are still to be rendered, enqueued by the transaction that
-- closed it. `notification` is the automatic notification-requested waiting for them.
CREATE TABLE IF NOT EXISTS render_jobs (
    invoice_id    uuid        PRIMARY KEY REFERENCES invoices,
    notification  jsonb,
    correlation_id text       NOT NULL,
    event_time    timestamptz,
    traceparent   text,        -- the trace the documents' events go on in
    attempts      integer     NOT NULL DEFAULT 0,
    not_before    timestamptz NOT NULL DEFAULT now(),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS render_jobs_due ON render_jobs (not_before);

-- The documents of an invoice, by kind: stored once, never changed.
CREATE TABLE IF NOT EXISTS invoice_documents (
    invoice_id  uuid        NOT NULL REFERENCES invoices,
    kind        text        NOT NULL CHECK (kind IN ('pdf', 'ubl')),
    media_type  text        NOT NULL,
    sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size        integer     NOT NULL CHECK (size > 0),
    content     bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (invoice_id, kind)
);

-- A document an invoice cannot have, and why (a 3-digit currency, no buyer country).
CREATE TABLE IF NOT EXISTS invoice_documents_unavailable (
    invoice_id  uuid NOT NULL REFERENCES invoices,
    kind        text NOT NULL CHECK (kind IN ('pdf', 'ubl')),
    reason      text NOT NULL,
    PRIMARY KEY (invoice_id, kind)
);

CREATE OR REPLACE FUNCTION invoice_documents_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a stored document never changes (invoice %, %)', OLD.invoice_id, OLD.kind;
END
$$;
CREATE OR REPLACE TRIGGER invoice_documents_unchanged BEFORE UPDATE ON invoice_documents
    FOR EACH ROW EXECUTE FUNCTION invoice_documents_unchanged();
