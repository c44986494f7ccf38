-- The counts of sync_runs (pages_planned, pages_done, pages_failed,
-- campaigns_seen, campaigns_saved, campaigns_dead) are kept by the database
-- itself: every statement that inserts or updates page or item rows moves
-- the counts of their runs by exactly the rows it changed, in the same
-- transaction. No code moves them, so none can forget to. (Counting each
-- run's rows in every transaction that changes them would read all of a
-- run's items for every batch of saves.) Rows are deleted only with their
-- run, so deletes need no count.
--
-- sync_runs_count's arguments name the run's count of all the table's
-- rows, then a count and the status it counts, twice. The statement is
-- built per call because an INSERT trigger has no old_rows to read.
CREATE FUNCTION sync_runs_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
		RETURN NULL;
	END IF;
	EXECUTE format($sql$
		UPDATE sync_runs r SET %1$I = r.%1$I + d.all_rows, %2$I = r.%2$I + d.first, %4$I = r.%4$I + d.second
		FROM (SELECT run_id, sum(n) AS all_rows,
				coalesce(sum(n) FILTER (WHERE status = %3$L), 0) AS first,
				coalesce(sum(n) FILTER (WHERE status = %5$L), 0) AS second
			FROM (SELECT run_id, status, 1 AS n FROM new_rows %6$s) AS c GROUP BY run_id) AS d
		WHERE r.id = d.run_id AND (d.all_rows, d.first, d.second) <> (0, 0, 0)$sql$,
		TG_ARGV[0], TG_ARGV[1], TG_ARGV[2], TG_ARGV[3], TG_ARGV[4],
		CASE TG_OP WHEN 'UPDATE' THEN 'UNION ALL SELECT run_id, status, -1 FROM old_rows' ELSE '' END);
	RETURN NULL;
END
$$;

CREATE TRIGGER sync_run_pages_count_inserts AFTER INSERT ON sync_run_pages
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION sync_runs_count('pages_planned', 'pages_done', 'done', 'pages_failed', 'failed');
CREATE TRIGGER sync_run_pages_count_updates AFTER UPDATE ON sync_run_pages
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION sync_runs_count('pages_planned', 'pages_done', 'done', 'pages_failed', 'failed');
CREATE TRIGGER sync_run_items_count_inserts AFTER INSERT ON sync_run_items
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION sync_runs_count('campaigns_seen', 'campaigns_saved', 'saved', 'campaigns_dead', 'dead');
CREATE TRIGGER sync_run_items_count_updates AFTER UPDATE ON sync_run_items
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION sync_runs_count('campaigns_seen', 'campaigns_saved', 'saved', 'campaigns_dead', 'dead');
