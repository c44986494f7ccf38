-- Cancelled runs become failed ones, keeping their reason, so the narrower
-- constraint holds again. `incomplete` stays allowed: its own migration
-- takes it away when it is rolled back.
UPDATE sync_runs SET status = 'failed' WHERE status = 'cancelled';
ALTER TABLE sync_runs DROP CONSTRAINT IF EXISTS sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
    CHECK (status IN ('running', 'done', 'done_with_failures', 'incomplete', 'failed'));
