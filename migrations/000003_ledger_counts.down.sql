DROP TRIGGER sync_run_items_count_updates ON sync_run_items;
DROP TRIGGER sync_run_items_count_inserts ON sync_run_items;
DROP TRIGGER sync_run_pages_count_updates ON sync_run_pages;
DROP TRIGGER sync_run_pages_count_inserts ON sync_run_pages;
DROP FUNCTION sync_runs_count();
