-- Every payment of an invoice (its ledger), and the dunning notices sent.

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

-- One row per invoice and level once its notice is done (level 0: invoice-overdue;
-- n: the n-th payment reminder), written in the transaction that writes its outbox rows:
-- a notice is never sent twice, by a repeated scan, a crashed one or two at once.
CREATE TABLE IF NOT EXISTS dunning_notices (
    invoice_id  uuid        NOT NULL REFERENCES invoices ON DELETE CASCADE,
    level       integer     NOT NULL CHECK (level >= 0),
    sent        boolean     NOT NULL,  -- false: a reminder passed over (see worker/domain/dunning.py)
    as_of       date        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (invoice_id, level)
);

-- What the scan reads: open invoices by due date.
CREATE INDEX IF NOT EXISTS invoices_open_by_due_date ON invoices (due_date)
    WHERE status = 'open';
