-- A listing a run can trust (issue 16): metrics the platform has no figure
-- for yet are stored as NULL, campaigns the platform stopped listing are
-- marked removed (never deleted), and a run lists its pages again when the
-- listing moved under it.

ALTER TABLE campaigns
    ALTER COLUMN budget DROP NOT NULL,
    ALTER COLUMN impressions DROP NOT NULL,
    ALTER COLUMN clicks DROP NOT NULL,
    ALTER COLUMN conversions DROP NOT NULL,
    -- Set by a run whose listing ended complete and clean and did not show
    -- the campaign; cleared by the next such run that shows it again.
    ADD COLUMN removed_at timestamptz;

ALTER TABLE sync_runs
    DROP CONSTRAINT sync_runs_status_check,
    ADD CONSTRAINT sync_runs_status_check
        CHECK (status IN ('running', 'done', 'done_with_failures', 'incomplete', 'cancelled', 'failed')),
    -- The listing pass the run is in: 0 is the first listing, 1.. are
    -- reconcile passes made because the listing moved.
    ADD COLUMN list_pass integer NOT NULL DEFAULT 0,
    -- open while pages of the current pass are coming; complete once a pass
    -- ended clean; incomplete when it ended on a contradiction, or still
    -- moved after the last reconcile pass allowed.
    ADD COLUMN listing text NOT NULL DEFAULT 'open' CHECK (listing IN ('open', 'complete', 'incomplete')),
    -- What ended the listing short: the page and what was wrong with it.
    ADD COLUMN listing_problem text,
    -- Campaigns of the client this run marked removed.
    ADD COLUMN campaigns_removed integer NOT NULL DEFAULT 0;

-- Pages are per listing pass; total is what the page said the account held.
ALTER TABLE sync_run_pages
    ADD COLUMN pass integer NOT NULL DEFAULT 0 CHECK (pass >= 0),
    ADD COLUMN total integer,
    DROP CONSTRAINT sync_run_pages_pkey,
    ADD PRIMARY KEY (run_id, pass, page);

-- Which ids each page of each pass showed: drift (an id on two pages, fewer
-- ids than the total) and removals are read from it. The items a run saves
-- stay one per id in sync_run_items, whatever pass showed them first.
CREATE TABLE sync_run_listing (
    run_id   bigint  NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    pass     integer NOT NULL,
    page     integer NOT NULL,
    item_key text    NOT NULL,
    PRIMARY KEY (run_id, pass, page, item_key)
);

-- Runs recorded before this migration listed every page they planned: their
-- listing is over unless a page is still pending or failed, which closes it
-- when it comes through. Their pages have no total, so they mark nothing
-- removed (see markRemovals).
UPDATE sync_runs SET listing = 'complete'
WHERE NOT EXISTS (SELECT 1 FROM sync_run_pages p WHERE p.run_id = sync_runs.id AND p.status <> 'done');
