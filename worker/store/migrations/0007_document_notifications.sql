-- The notification-requested that goes out with its invoice's documents (docs/contract.md,
-- "Documents"): the automatic one of a close, and the one of a `send` command or a `close`
-- with `send`. It waits here, written by the transaction that decided it, until the
-- documents are stored; the renderer then sends it with them and deletes it. One table for
-- both: the automatic one moves here from render_jobs.notification.
CREATE TABLE IF NOT EXISTS document_notifications (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id     uuid        NOT NULL REFERENCES invoices,
    channel        text        NOT NULL,
    recipient      text        NOT NULL,
    reason         text        NOT NULL,
    request        text[]      NOT NULL,
    amount_due     numeric     NOT NULL,  -- what was due when it was requested
    correlation_id text        NOT NULL,
    event_time     timestamptz,
    traceparent    text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS document_notifications_invoice
    ON document_notifications (invoice_id, id);

-- Workers of the release before cannot close an invoice with a seller once the column is
-- gone (their batch is retried until they are replaced: nothing is lost). The lock keeps
-- their renderers from sending a notification that was just copied.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = 'render_jobs'
                  AND column_name = 'notification') THEN
        LOCK TABLE render_jobs IN ACCESS EXCLUSIVE MODE;
        INSERT INTO document_notifications (invoice_id, channel, recipient, reason, request,
                                            amount_due, correlation_id, event_time,
                                            traceparent)
        SELECT invoice_id, notification ->> 'channel', notification ->> 'recipient', 'auto',
               ARRAY(SELECT jsonb_array_elements_text(notification -> 'request')),
               (notification ->> 'amountDue')::numeric, correlation_id, event_time,
               traceparent
          FROM render_jobs
         WHERE notification IS NOT NULL;
        ALTER TABLE render_jobs DROP COLUMN notification;
    END IF;
END
$$;

-- The age of the oldest job, read on every metrics scrape.
CREATE INDEX IF NOT EXISTS render_jobs_created ON render_jobs (created_at);
