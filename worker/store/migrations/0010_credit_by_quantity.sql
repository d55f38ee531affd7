-- Several credit notes may credit one invoice line in parts (docs/contract.md, "Credit by
-- quantity"): a line is no longer credited at most once. What is left of it is the domain's
-- to decide, under the worker's lock on the order.
DROP INDEX IF EXISTS invoice_lines_line_credited_once;
