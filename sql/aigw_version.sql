-- The library is loaded and the SQL API answers.
SELECT aigw.version();
SELECT extversion FROM pg_extension WHERE extname = 'aigw';
SHOW aigw.workers;
-- The prefix is reserved: an unknown aigw.* setting is an error.
SET aigw.no_such_setting = 1;
-- The launcher is registered with the postmaster.
SELECT count(*) >= 1 AS launcher_running FROM pg_stat_activity WHERE backend_type = 'aigw launcher';
