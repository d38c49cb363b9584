-- wrk script: POST one house to the explain route (or the body in EXPLAIN_BODY; GET with
-- WRK_METHOD=GET), and count answers by status. A 503 without Retry-After (not deliberate
-- load shedding) is counted apart, as 503_without_retry_after.
wrk.method = os.getenv("WRK_METHOD") or "POST"
wrk.headers["Content-Type"] = "application/json"
local body = os.getenv("EXPLAIN_BODY")
if body == "" then body = nil end
wrk.body = body or
  '{"instances":[{"lotsize":5850,"bedrooms":3,"bathrooms":1,"stories":2,"driveway":1,' ..
  '"recreation":0,"fullbase":1,"gasheat":0,"aircon":0,"garage":1,"prefer":0}]}'

if wrk.method == "GET" then wrk.body = nil end

local statuses = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
end

function response(status, headers, body)
  if status == 503 and not (headers["retry-after"] or headers["Retry-After"]) then
    status = "503_without_retry_after"
  end
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for status, n in pairs(c) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format("%s=%d", status, n))
  end
  table.sort(parts)
  io.write(string.format("statuses: %s\n", table.concat(parts, " ")))
  io.write(string.format("p50_ms=%.3f p99_ms=%.3f rps=%.0f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6)))
end
