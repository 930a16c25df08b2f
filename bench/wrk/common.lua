-- Prepended to every scenario script by bench/wrk.ts. Gives each thread its index (setup
-- runs in the main Lua state before each thread's init) and prints one JSON line at the end,
-- because wrk's human summary rounds latencies and hides the per-thread counters.

local bench_threads = {}

function setup(thread)
  thread:set("thread_index", #bench_threads)
  table.insert(bench_threads, thread)
end

-- Per-thread counters a scenario may set; read back in done().
sent = 0
exhausted = 0
first_id = -1
next_id = -1

local function num(x)
  if x == nil or x ~= x or x == math.huge or x == -math.huge then return "null" end
  return string.format("%.17g", x)
end

function done(summary, latency, requests)
  local parts = {}
  local function put(k, v) table.insert(parts, string.format("%q:%s", k, v)) end
  put("durationUs", num(summary.duration))
  put("requests", num(summary.requests))
  put("bytes", num(summary.bytes))
  put("errConnect", num(summary.errors.connect))
  put("errRead", num(summary.errors.read))
  put("errWrite", num(summary.errors.write))
  put("errStatus", num(summary.errors.status))
  put("errTimeout", num(summary.errors.timeout))
  put("latMinUs", num(latency.min))
  put("latMaxUs", num(latency.max))
  put("latMeanUs", num(latency.mean))
  put("latStdevUs", num(latency.stdev))
  local ps = {}
  for _, p in ipairs({ 50, 75, 90, 95, 99, 99.9, 99.99 }) do
    table.insert(ps, string.format("%q:%s", tostring(p), num(latency:percentile(p))))
  end
  put("latPercentilesUs", "{" .. table.concat(ps, ",") .. "}")
  local ts = {}
  for i, t in ipairs(bench_threads) do
    table.insert(ts, string.format('{"index":%d,"sent":%s,"exhausted":%s,"firstId":%s,"nextId":%s}',
      i - 1, num(t:get("sent")), num(t:get("exhausted")), num(t:get("first_id")), num(t:get("next_id"))))
  end
  put("threads", "[" .. table.concat(ts, ",") .. "]")
  io.write("BENCH_RESULT {" .. table.concat(parts, ",") .. "}\n")
end
