DROP TABLE IF EXISTS dead_letters;
DROP TABLE IF EXISTS sync_run_items;
DROP TABLE IF EXISTS sync_run_pages;
DROP TABLE IF EXISTS sync_runs;
DROP TABLE IF EXISTS campaigns;
