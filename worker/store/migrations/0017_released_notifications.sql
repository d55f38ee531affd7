-- Tables locked in the order the workers write them (a closing batch: render_jobs, then
-- document_notifications; a renderer: render_jobs, invoice_documents, then
-- document_notifications), so a worker of the release before that is mid-transaction
-- while this runs waits for it or is waited for, never deadlocks with it.

-- The renderers claim due jobs oldest first, by (not_before, created_at): with both in the
-- index, a claim reads its few jobs instead of sorting every due one.
CREATE INDEX IF NOT EXISTS render_jobs_due_in_order ON render_jobs (not_before, created_at);
DROP INDEX IF EXISTS render_jobs_due;

-- Stored as rendered, not compressed: a PDF's streams are compressed already, and
-- PostgreSQL's pglz spent ~0.5 ms of the server's CPU an invoice failing to shrink one. A
-- UBL takes its few kilobytes uncompressed. Rows stored before stay as they are.
ALTER TABLE invoice_documents ALTER COLUMN content SET STORAGE EXTERNAL;

-- A notification requested once its invoice's documents were done (stored, or failed for
-- good) is marked `released` by the transaction that adds it: it holds the invoice's order
-- lock, which the renderer stores documents and gives up on them under, so what it sees of
-- the render job stays true until it commits. The renderer's release then reads these
-- alone, through a partial index, not every notification still waiting for a rendering:
-- during a burst those are thousands, and reading them all took the database ~90 ms a
-- look, twice a second. The default, true, is for rows a worker of the release before
-- adds while this one rolls out: the release checks the render job of each row it reads,
-- so such a row costs a look, never a notification sent too early.
ALTER TABLE document_notifications ADD COLUMN IF NOT EXISTS released boolean NOT NULL DEFAULT true;
UPDATE document_notifications n
   SET released = false
 WHERE released
   AND EXISTS (SELECT 1 FROM render_jobs j WHERE j.invoice_id = n.invoice_id AND j.failure IS NULL);
CREATE INDEX IF NOT EXISTS document_notifications_released
    ON document_notifications (id) WHERE released;
