-- A render job whose rendering failed INVOICER_RENDER_MAX_ATTEMPTS times in a row has
-- failed for good (docs/contract.md, "Documents reach the customer"): it stays, with why,
-- never due again (not_before 'infinity') until `invoicer documents retry` makes it due;
-- the notifications that waited for it went out without documents.
ALTER TABLE render_jobs ADD COLUMN IF NOT EXISTS failure text;  -- null: still to be tried
-- How often an operator had it rendered again: each round's failure is an event of its own.
ALTER TABLE render_jobs ADD COLUMN IF NOT EXISTS retried integer NOT NULL DEFAULT 0;
