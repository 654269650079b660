-- wrk script: POST a chat completion body to every request.
--   BENCH_BODY     the JSON body
--   BENCH_HEADERS  extra headers, "Name: value" separated by "|"
--   BENCH_KEYS     optional file of API keys, one a line; requests use them in turn
--                  (Authorization: Bearer KEY), so that load spreads over many users
-- done() prints one line: "RESULT requests seconds rps p50_us p99_us non2xx socket_errors"
local body = os.getenv("BENCH_BODY") or "{}"
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
for h in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^|]+") do
  local name, value = string.match(h, "^%s*([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end

local keys = {}
local keyfile = os.getenv("BENCH_KEYS")
if keyfile and keyfile ~= "" then
  for line in io.lines(keyfile) do if line ~= "" then keys[#keys + 1] = line end end
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7)
end

local n = 0
local prepared = {}
function init(args)
  n = offset or 0
  for i, k in ipairs(keys) do
    wrk.headers["Authorization"] = "Bearer " .. k
    prepared[i] = wrk.format()
  end
end

function request()
  if #prepared == 0 then return wrk.format() end
  n = n + 1
  return prepared[(n % #prepared) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT %d %.3f %.1f %d %d %d %d\n", summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
