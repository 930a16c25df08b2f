-- Appended after slice.lua (bench/snapshot/): holds the whole run to about `rate` requests/s
-- instead of as many as the connections can send. wrk has no rate option (wrk2 has, Debian
-- ships wrk), but it calls delay() after each answer and waits that many ms before the
-- connection's next request. The wait each connection needs is connections / rate minus the
-- latency, which changes under load (a snapshot's pause lengthens it), and the Lua state has
-- only a one-second clock: so each thread counts what it sent in each second and scales its
-- wait to bring the next second to its share of the rate.
-- args: base count threads rate connections

local slice_init = init
local share, wait_ms, second, sent_at_second

function init(args)
  slice_init(args)
  local rate, connections, nthreads = tonumber(args[4]), tonumber(args[5]), tonumber(args[3])
  share = rate / nthreads
  -- Start from the wait that ignores latency: a little under the rate, corrected within seconds.
  wait_ms = connections * 1000 / rate
  second = os.time()
  sent_at_second = 0
end

function delay()
  local now = os.time()
  if now ~= second then
    local achieved = (sent - sent_at_second) / (now - second)
    if achieved > 0 then
      -- At most a factor of 1.5 per second, so one disturbed second does not swing the wait.
      local factor = math.max(1 / 1.5, math.min(1.5, achieved / share))
      wait_ms = math.max(0, wait_ms * factor)
    end
    second, sent_at_second = now, sent
  end
  return math.floor(wait_ms)
end
