-- One task: submitted, then awaited (bench/runtime/run.sh, pgbench -M prepared):
-- :request is the chat request, a parameter of the prepared statement.
SELECT aigw.submit_task('chat.completions', :request, '{"user_id": "bench"}') AS id \gset
SELECT aigw.await_task(:id, 10000) IS NOT NULL AS done \gset
