-- wrk script for the CTI API: every request carries a bearer token, taken in
-- turn from the file TOKENS_FILE (one a line), each thread starting at a
-- different token. With PACE_MS set, each connection waits that long after
-- a response before its next request (so that C connections offer at most
-- C * 1000 / PACE_MS requests a second). At the end it prints one JSON line:
-- requests, duration, latency percentiles (microseconds) over all answers,
-- answers by HTTP status, and socket errors.

local tokens_file = os.getenv("TOKENS_FILE") or error("set TOKENS_FILE")
local pace = tonumber(os.getenv("PACE_MS") or "0") or 0

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local tokens = {}
for line in io.lines(tokens_file) do
  if #line > 0 then tokens[#tokens + 1] = line end
end
if #tokens == 0 then error(tokens_file .. " holds no token") end
local next_token = 1
statuses = {}

function init(args)
  next_token = ((id or 1) * 7919) % #tokens + 1
end

function request()
  local token = tokens[next_token]
  next_token = next_token % #tokens + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. token })
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

if pace > 0 then
  function delay()
    return pace
  end
end

function done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "mean_us": %.1f, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"socket_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, table.concat(parts, ", ")))
end
