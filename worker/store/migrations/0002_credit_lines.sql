-- A credit note credits whole lines of its reference invoice, each at most once.

ALTER TABLE invoice_lines ADD COLUMN IF NOT EXISTS credited_invoice_id uuid REFERENCES invoices;
-- true while this line of a live credit note (draft, open, paid) credits its reference's line
ALTER TABLE invoice_lines ADD COLUMN IF NOT EXISTS holds_credit boolean NOT NULL DEFAULT false;

CREATE UNIQUE INDEX IF NOT EXISTS invoice_lines_line_credited_once
    ON invoice_lines (credited_invoice_id, order_row_id) WHERE holds_credit;
