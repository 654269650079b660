-- The pure pricing steps: request -> unified usage -> billing line items.
-- Literal billing_config values follow the shared billing_config shape.
\set chat_cfg '{"text": {"inputPer1k": 0.15, "outputPer1k": 0.6, "cachedInputPer1k": 0.075}, "pricingVersion": 3}'
\set image_cfg '{"image": {"perImage": 40, "resolutionWeights": {"1024x1024": 1, "1536x1024": 1.5}, "qualityWeights": {"low": 0.25, "medium": 1, "high": 4}, "modeWeights": {"generate": 1, "edit": 1.2}}}'
\set video_cfg '{"video": {"perUnit": 100, "unitSeconds": 5, "resolutionWeights": {"720p": 1, "1080p": 1.5}, "audioWeights": {"false": 1, "true": 1.3}, "referenceWeights": {"none": 1, "image": 1.1, "video": 1.3}}}'

-- Chat: input, cached input and output per 1k tokens; group discount per model type.
SELECT jsonb_pretty(aigw.compute_billing('chat',
  '{"prompt_tokens": 1200, "completion_tokens": 800, "cached_tokens": 200}', :'chat_cfg',
  '{"userGroupDiscountPolicy": {"defaultDiscountFactor": 0.9, "modelTypeDiscounts": {"chat": 0.85}}, "platformDiscountFactor": 0.8}'));
-- A single total price is expanded into input and output items; no cached price falls back to input.
SELECT item->>'resourceType' AS resource, item->>'unitPrice' AS unit_price, item->>'tokens' AS tokens, item->>'cost' AS cost
  FROM jsonb_array_elements(aigw.compute_billing('chat',
         '{"prompt_tokens": 1000, "completion_tokens": 500, "cached_tokens": 400}', '{"totalPer1k": 0.5}')->'lineItems') AS item;
-- Only total_tokens reported: all of it is input.
SELECT aigw.compute_billing('chat', '{"total_tokens": 2000}', :'chat_cfg')->'total' AS total_only;
-- Cached tokens above prompt tokens are capped at prompt tokens.
SELECT aigw.compute_billing('chat', '{"prompt_tokens": 100, "cached_tokens": 500}', :'chat_cfg')->'total' AS capped;

-- Images: count x perImage x resolution x quality x mode.
SELECT item->>'quantity' AS images, item->'weights' AS weights, item->>'cost' AS cost
  FROM jsonb_array_elements(aigw.compute_billing('image',
         '{"images": 2, "image_size": "1536x1024", "image_quality": "high", "image_mode": "edit"}', :'image_cfg')->'lineItems') AS item;
-- A value the request leaves out weighs 1; the mode defaults to generate.
SELECT aigw.compute_billing('image', '{"images": 3}', :'image_cfg')->'total' AS defaults;

-- Video: count x ceil(seconds / unitSeconds) x perUnit x resolution x audio x reference.
SELECT item->>'unit' AS unit, item->>'quantity' AS units, item->>'seconds' AS seconds, item->>'cost' AS cost
  FROM jsonb_array_elements(aigw.compute_billing('video',
         '{"videos": 2, "video_seconds": 12, "video_resolution": "1080p", "video_audio": true, "video_reference": "video"}', :'video_cfg')->'lineItems') AS item;
-- Exactly one unit of seconds is one unit; a price per second uses unit "second".
SELECT aigw.compute_billing('video', '{"video_seconds": 5}', :'video_cfg')->'total' AS five_seconds,
       aigw.compute_billing('video', '{"video_seconds": 7.5}', '{"video": {"perSecond": 2}}')->'lineItems'->0->>'unit' AS unit,
       aigw.compute_billing('video', '{"video_seconds": 7.5}', '{"video": {"perSecond": 2}}')->'total' AS per_second;

-- Audio: per 1k characters, or per second.
SELECT aigw.compute_billing('audio', '{"audio_characters": 2500}', '{"audio": {"per1kCharacters": 15}}')->'total' AS per_chars,
       aigw.compute_billing('audio', '{"audio_seconds": 42}', '{"audio": {"perSecond": 0.1}}')->'total' AS per_second;

-- Embeddings: per 1k tokens; falls back to the text input price.
SELECT aigw.compute_billing('embedding', '{"embedding_tokens": 12345}', '{"embedding": {"inputPer1k": 0.02}}')->'total' AS embedding,
       aigw.compute_billing('embedding', '{"prompt_tokens": 1000}', '{"text": {"inputPer1k": 0.1, "outputPer1k": 0}}')->'total' AS fallback;

-- An explicit group factor wins over the policy; a simulated billing is marked on every item.
SELECT b->'discounts' AS discounts, b->'simulated' AS simulated, b->'lineItems'->0->'simulated' AS item_simulated, b->'total' AS total
  FROM aigw.compute_billing('image', '{"images": 1}', :'image_cfg',
         '{"userGroupDiscountFactor": 0.5, "userGroupDiscountPolicy": {"defaultDiscountFactor": 0.9}, "simulated": true}') AS b;

-- Group discount factor resolution.
SELECT aigw.group_discount_factor('{"defaultDiscountFactor": 0.9, "modelTypeDiscounts": {"chat": 0.85}}', 'chat') AS chat,
       aigw.group_discount_factor('{"defaultDiscountFactor": 0.9, "modelTypeDiscounts": {"chat": 0.85}}', 'image') AS image,
       aigw.group_discount_factor('{}', 'image') AS none,
       aigw.group_discount_factor(NULL, 'image') AS null_policy;

-- Estimates: request -> unified usage.
SELECT aigw.estimate_usage('chat', '{"messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": [{"type": "text", "text": "Describe this picture"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}], "max_tokens": 300, "n": 2}');
SELECT aigw.estimate_usage('chat', '{"messages": [{"role": "user", "content": "hi"}]}', '{"maxOutputTokens": 4096}') AS from_capabilities,
       aigw.estimate_usage('chat', '{"messages": [{"role": "user", "content": "hi"}]}') AS default_budget;
SELECT aigw.estimate_usage('embedding', '{"input": ["abcdefgh", "xyz", [1, 2, 3]]}');
SELECT aigw.estimate_usage('image', '{"prompt": "a cat", "n": 2, "quality": "high"}', '{"sizes": ["1024x1024", "1536x1024"]}') AS generate,
       aigw.estimate_usage('image', '{"prompt": "a hat", "image": "https://x/cat.png", "size": "1536x1024"}') AS edit;
SELECT aigw.estimate_usage('video', '{"prompt": "waves", "seconds": "8", "resolution": "1080p", "generate_audio": true, "image_url": "https://x/a.png"}') AS explicit,
       aigw.estimate_usage('video', '{"prompt": "waves"}', '{"durations": [10, 5], "resolutions": ["720p"]}') AS from_capabilities;
SELECT aigw.estimate_usage('audio', '{"input": "你好，世界。Hello there, world!"}') AS speech,
       aigw.estimate_usage('audio', '{"duration": 30}') AS timed;

-- The estimate of a request equals the billing of the usage it estimates (same resolver).
SELECT aigw.compute_estimate('video', r, :'video_cfg') - 'usage' - 'phase'
         = aigw.compute_billing('video', aigw.estimate_usage('video', r), :'video_cfg') - 'phase' AS same_resolver,
       aigw.compute_estimate('video', r, :'video_cfg')->'total' AS total
  FROM (VALUES ('{"duration": 12, "resolution": "720p", "image": "x"}'::jsonb)) AS v(r);

-- Reconciliation of a final billing against its estimate.
SELECT aigw.reconcile_billing(aigw.compute_estimate('chat', '{"messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 100}', :'chat_cfg'),
                              aigw.compute_billing('chat', '{"prompt_tokens": 9, "completion_tokens": 3}', :'chat_cfg'));

-- Errors: no price is never a free estimate; unknown weights, bad usage and bad shapes are rejected.
SELECT aigw.compute_billing('chat', '{"prompt_tokens": 10}', '{}');
SELECT aigw.compute_billing('chat', '{"prompt_tokens": 10}', '{"image": {"perImage": 1}}');
SELECT aigw.compute_billing('image', '{"image_size": "4K"}', :'image_cfg');
SELECT aigw.compute_billing('chat', '{"prompt_tokens": -1}', :'chat_cfg');
SELECT aigw.compute_billing('chat', '{"prompt_tokens": "many"}', :'chat_cfg');
SELECT aigw.compute_billing('chat', '[1]', :'chat_cfg');
SELECT aigw.compute_billing('video', '{"videos": 1}', :'video_cfg');
SELECT aigw.compute_billing('video', '{"video_seconds": 5}', '{"video": {"perUnit": 1, "unitSeconds": 0}}');
SELECT aigw.compute_billing('audio', '{"audio_seconds": 3}', '{"audio": {"per1kCharacters": 15}}');
SELECT aigw.compute_billing('music', '{}', '{"music": {"perItem": 1}}');
SELECT aigw.estimate_usage('image', '{"n": 0}');
SELECT aigw.estimate_usage('image', '{"n": 1.5}');
SELECT aigw.estimate_usage('image', '{"mode": "upscale"}');
SELECT aigw.estimate_usage('embedding', '{}');
SELECT aigw.estimate_usage('audio', '{}');
SELECT aigw.estimate_usage('video', '{"audio": "maybe"}');
