-- Every payment of an invoice: its ledger.

CREATE TABLE IF NOT EXISTS payments (
    invoice_id       uuid        NOT NULL REFERENCES invoices ON DELETE CASCADE,
    payment_id       text        NOT NULL,
    position         integer     NOT NULL CHECK (position >= 1),  -- order recorded
    amount           numeric     NOT NULL CHECK (amount > 0),
    paid_at          timestamptz NOT NULL,
    method           text,
    reference        text,
    refunded_amount  numeric     NOT NULL DEFAULT 0
                     CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    PRIMARY KEY (invoice_id, payment_id),
    UNIQUE (invoice_id, position)
);

-- Before the ledger only a running sum was kept: it becomes one payment.
INSERT INTO payments (invoice_id, payment_id, position, amount, paid_at)
SELECT invoice_id, 'before-ledger', 1, paid_amount, updated_at
  FROM invoices
 WHERE paid_amount > 0
ON CONFLICT DO NOTHING;
