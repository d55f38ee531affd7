-- Every refund of a payment is kept with its id, and a payment reminder is known by its
-- days past due rather than its position in INVOICER_REMINDER_DAYS (docs/contract.md v3,
-- "Returns and credit by quantity").

CREATE TABLE IF NOT EXISTS payment_refunds (
    invoice_id   uuid        NOT NULL,
    refund_id    text        NOT NULL,
    payment_id   text        NOT NULL,
    position     integer     NOT NULL CHECK (position >= 1),  -- order given, per payment
    amount       numeric     NOT NULL CHECK (amount > 0),
    refunded_at  timestamptz NOT NULL,
    reason       text,
    PRIMARY KEY (invoice_id, refund_id),
    UNIQUE (invoice_id, payment_id, position),
    FOREIGN KEY (invoice_id, payment_id) REFERENCES payments ON DELETE CASCADE
);

-- Before refund ids only what was refunded of each payment was kept: it becomes one refund,
-- dated when its invoice last changed. A payment with refunds of its own is left alone, so
-- a second run adds nothing.
INSERT INTO payment_refunds (invoice_id, refund_id, payment_id, position, amount, refunded_at)
SELECT p.invoice_id, 'before-refund-ids:' || p.payment_id, p.payment_id, 1,
       p.refunded_amount, i.updated_at
  FROM payments p JOIN invoices i USING (invoice_id)
 WHERE p.refunded_amount > 0
   AND NOT EXISTS (SELECT 1 FROM payment_refunds r
                    WHERE r.invoice_id = p.invoice_id AND r.payment_id = p.payment_id)
ON CONFLICT DO NOTHING;

-- A reminder's days past due (its level's days when it was sent; `level` stays its position
-- then, the reminderLevel it went out with). Null for a reminder sent before this column
-- existed: it counts at the days its invoice was past due on the day it went out
-- (as_of - due_date), see worker/store/dunning.py. Null for the overdue notice (level 0).
ALTER TABLE dunning_notices ADD COLUMN IF NOT EXISTS days integer CHECK (days >= 1);

-- Positions repeat once the list changes: a notice is once per invoice (overdue) and once per
-- invoice and days (a reminder).
ALTER TABLE dunning_notices DROP CONSTRAINT IF EXISTS dunning_notices_pkey;
CREATE UNIQUE INDEX IF NOT EXISTS dunning_notices_overdue_once
    ON dunning_notices (invoice_id) WHERE level = 0;
CREATE UNIQUE INDEX IF NOT EXISTS dunning_notices_reminder_once
    ON dunning_notices (invoice_id, days) WHERE level > 0;
CREATE INDEX IF NOT EXISTS dunning_notices_by_invoice ON dunning_notices (invoice_id);
