-- A run ends `cancelled` when its client is removed from the configuration
-- while it runs. `incomplete` is allowed here too, so that this constraint
-- is right whichever of the two statuses' migrations runs last.
ALTER TABLE sync_runs DROP CONSTRAINT IF EXISTS sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
    CHECK (status IN ('running', 'done', 'done_with_failures', 'incomplete', 'cancelled', 'failed'));
