-- The database role of `invoicer api`: it reads, and can write nothing. Run it as the
-- owner of the worker's tables, in the worker's database, after `invoicer migrate`; then
-- give it a password (ALTER ROLE invoicer_api PASSWORD '...') and put its URL in the
-- Secret invoicer-api (deploy/base/api.yaml). Run it again after a migration that
-- adds a table the read API reads.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoicer_api') THEN
        CREATE ROLE invoicer_api LOGIN;
    END IF;
END
$$;
ALTER ROLE invoicer_api SET default_transaction_read_only = on;
GRANT USAGE ON SCHEMA public TO invoicer_api;
GRANT SELECT ON schema_migrations, invoices, invoice_lines, payments, payment_refunds,
                 invoice_documents
    TO invoicer_api;
