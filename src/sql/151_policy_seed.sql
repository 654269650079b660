-- The seed 000 default runner policy (default-runner-v1), as shipped.  The
-- shipped checks (aigw.policy_checks) pin the engine against these values,
-- independently of what the live gateway_runner_policies row holds now.

CREATE FUNCTION aigw.seed_runner_policy() RETURNS jsonb
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN jsonb_build_object(
    'policy_key', 'default-runner-v1',
    'status', 'active',
    'failover_policy', '{
  "enabled": true,
  "maxPlatforms": 99,
  "maxDurationSeconds": 600,
  "allowCategories": [
    "network",
    "timeout",
    "stream_error",
    "rate_limit",
    "provider_5xx",
    "provider_overloaded",
    "auth_error"
  ],
  "denyCategories": [
    "request_error",
    "unsupported_model",
    "user_permission",
    "insufficient_balance"
  ],
  "allowCodes": [
    "auth_failed",
    "invalid_api_key",
    "missing_credentials"
  ],
  "allowKeywords": [
    "timeout",
    "network",
    "rate_limit",
    "overloaded",
    "temporarily_unavailable",
    "server_error",
    "auth_failed",
    "invalid_api_key",
    "missing_credentials",
    "unauthorized",
    "forbidden",
    "429",
    "5xx"
  ],
  "denyKeywords": [
    "invalid_parameter",
    "missing required",
    "bad request"
  ],
  "allowStatusCodes": [
    401,
    403,
    408,
    429,
    500,
    502,
    503,
    504
  ],
  "denyStatusCodes": [],
  "actions": {
    "auth_error": "disable_and_next",
    "rate_limit": "cooldown_and_next",
    "provider_5xx": "next",
    "request_error": "stop"
  }
}'::jsonb,
    'hard_stop_policy', '{
  "enabled": true,
  "categories": [
    "request_error",
    "unsupported_model",
    "user_permission",
    "insufficient_balance"
  ],
  "codes": [
    "bad_request",
    "invalid_request",
    "invalid_parameter",
    "missing_required",
    "unsupported_kind",
    "unsupported_model",
    "insufficient_balance",
    "permission_denied"
  ],
  "statusCodes": [],
  "keywords": [
    "invalid_parameter",
    "missing required",
    "bad request",
    "insufficient balance"
  ]
}'::jsonb,
    'priority_demote_policy', '{
  "enabled": true,
  "demoteStep": 100,
  "categories": [
    "network",
    "timeout",
    "stream_error",
    "rate_limit",
    "provider_5xx",
    "provider_overloaded"
  ],
  "codes": [
    "network",
    "timeout",
    "stream_read_error",
    "rate_limit",
    "server_error",
    "overloaded"
  ],
  "statusCodes": [
    408,
    429,
    500,
    502,
    503,
    504
  ],
  "keywords": [
    "timeout",
    "network",
    "rate_limit",
    "overloaded",
    "temporarily_unavailable",
    "server_error",
    "429",
    "5xx"
  ]
}'::jsonb);
COMMENT ON FUNCTION aigw.seed_runner_policy() IS
  'the seed 000 default-runner-v1 runner policy as a gateway_runner_policies row in jsonb';
