-- Campaigns as last synced, one row per (client, campaign): campaign ids are
-- unique within one client's account only.
CREATE TABLE campaigns (
    client_id           text        NOT NULL,
    id                  text        NOT NULL,
    name                text        NOT NULL,
    status              text        NOT NULL,
    budget              numeric     NOT NULL CHECK (budget >= 0),
    impressions         bigint      NOT NULL CHECK (impressions >= 0),
    clicks              bigint      NOT NULL CHECK (clicks >= 0),
    conversions         bigint      NOT NULL CHECK (conversions >= 0),
    created_at          timestamptz NOT NULL,
    platform_synced_at  timestamptz,
    synced_at           timestamptz NOT NULL DEFAULT now(),
    run_id              bigint,
    PRIMARY KEY (client_id, id)
);

-- One row per sync run of one client: the ledger that progress, status and
-- resume read. Counters are changed only together with the page or item row
-- whose state they count, in one transaction, so they stay exact under
-- at-least-once delivery.
CREATE TABLE sync_runs (
    id              bigserial   PRIMARY KEY,
    client_id       text        NOT NULL,
    status          text        NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'done', 'done_with_failures', 'failed')),
    pages_planned   integer     NOT NULL DEFAULT 0,
    pages_done      integer     NOT NULL DEFAULT 0,
    pages_failed    integer     NOT NULL DEFAULT 0,
    campaigns_seen  integer     NOT NULL DEFAULT 0,
    campaigns_saved integer     NOT NULL DEFAULT 0,
    campaigns_dead  integer     NOT NULL DEFAULT 0,
    reason          text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
-- Never two running runs of one client: the database, not a race-prone check
-- in code, enforces it.
CREATE UNIQUE INDEX sync_runs_one_running_per_client ON sync_runs (client_id) WHERE status = 'running';
CREATE INDEX sync_runs_started_at ON sync_runs (started_at DESC);

-- The pages of a run: planned, then done (or failed for good).
CREATE TABLE sync_run_pages (
    run_id     bigint  NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    page       integer NOT NULL CHECK (page >= 1),
    status     text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    campaigns  integer,
    PRIMARY KEY (run_id, page)
);

-- The records of a run, keyed by campaign id (or a position when the record
-- has no usable id), with the raw record so an unfinished item can be
-- re-enqueued after Redis lost its queues.
CREATE TABLE sync_run_items (
    run_id   bigint NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    item_key text   NOT NULL,
    page     integer NOT NULL,
    status   text   NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'saved', 'dead')),
    record   bytea  NOT NULL,
    PRIMARY KEY (run_id, item_key)
);
CREATE INDEX sync_run_items_pending ON sync_run_items (run_id) WHERE status = 'pending';

-- Every task that failed for good, with its reason. asynq's archive (the
-- dead-letter queue shown in asynqmon) keeps at most 10,000 tasks; this
-- table keeps them all.
CREATE TABLE dead_letters (
    id          bigserial   PRIMARY KEY,
    task_id     text        NOT NULL UNIQUE,
    task_type   text        NOT NULL,
    run_id      bigint      REFERENCES sync_runs (id) ON DELETE SET NULL,
    client_id   text        NOT NULL,
    item_key    text,
    page        integer,
    reason      text        NOT NULL,
    payload     bytea       NOT NULL,
    failures    integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
CREATE INDEX dead_letters_open ON dead_letters (client_id) WHERE resolved_at IS NULL;
