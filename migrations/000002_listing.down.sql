DROP TABLE IF EXISTS sync_run_listing;
DELETE FROM sync_run_pages WHERE pass > 0;
ALTER TABLE sync_run_pages
    DROP CONSTRAINT sync_run_pages_pkey,
    ADD PRIMARY KEY (run_id, page),
    DROP COLUMN total,
    DROP COLUMN pass;
UPDATE sync_runs SET status = 'failed' WHERE status IN ('incomplete', 'cancelled');
ALTER TABLE sync_runs
    DROP COLUMN campaigns_removed,
    DROP COLUMN listing_problem,
    DROP COLUMN listing,
    DROP COLUMN list_pass,
    DROP CONSTRAINT sync_runs_status_check,
    ADD CONSTRAINT sync_runs_status_check CHECK (status IN ('running', 'done', 'done_with_failures', 'failed'));
-- NOT NULL cannot hold a metric without a figure: such rows go, as before
-- this migration they could not have been stored.
DELETE FROM campaigns WHERE budget IS NULL OR impressions IS NULL OR clicks IS NULL OR conversions IS NULL;
ALTER TABLE campaigns
    DROP COLUMN removed_at,
    ALTER COLUMN budget SET NOT NULL,
    ALTER COLUMN impressions SET NOT NULL,
    ALTER COLUMN clicks SET NOT NULL,
    ALTER COLUMN conversions SET NOT NULL;
