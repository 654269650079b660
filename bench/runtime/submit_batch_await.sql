-- One batch: :batch chat tasks submitted in one transaction (one statement),
-- then one statement that waits for all of them (bench/runtime/run.sh,
-- pgbench -M prepared; :request is the chat request).
SELECT array_agg(aigw.submit_task('chat.completions', :request, '{"user_id": "bench"}'))::text AS ids FROM generate_series(1, :batch) \gset
SELECT count(aigw.await_task(x, 30000)) FROM unnest(:ids::uuid[]) x;
