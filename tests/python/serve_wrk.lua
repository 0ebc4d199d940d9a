-- wrk script of the `aistack serve` load test (tests/python/test_serve_load.py) and of
-- bench/bench_serve.py: POSTs the bytes of the file $WRK_BODY (headers come with wrk -H) and
-- prints one line "WRK_JSON {...}" at the end: requests, socket errors by kind, non-2xx
-- answers, and latency percentiles in microseconds. With WRK_NO_COUNT set, answers are not
-- looked at (no Lua call per response: the benchmark's mode), and non2xx is -1; wrk's own
-- "status" count (answers >= 400) is still there.
local f = assert(io.open(assert(os.getenv("WRK_BODY"), "WRK_BODY is not set"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

if not os.getenv("WRK_NO_COUNT") then
  non2xx = 0
  function response(status, headers, body)
    if status < 200 or status > 299 then
      non2xx = non2xx + 1
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    local n = t:get("non2xx")
    if n == nil then bad = -1 elseif bad >= 0 then bad = bad + n end
  end
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"non2xx": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, bad, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
