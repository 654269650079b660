-- One task: submitted, then awaited (bench/runtime/run.sh); :model is the platform model.
SELECT '''' || aigw.submit_task('chat.completions', '{"model": ":model", "messages": [{"role": "user", "content": "hi"}]}', '{"user_id": "bench"}') || '''' AS id \gset
SELECT aigw.await_task(:id, 10000) IS NOT NULL AS done \gset
