-- (b)/(c) every request checks out an order no request checked out before: thread i walks
-- ids base + i*per .. base + (i+1)*per - 1 once, in order.
-- args: base count threads

local last
local verified = false

function init(args)
  local base, count, nthreads = tonumber(args[1]), tonumber(args[2]), tonumber(args[3])
  local per = math.floor(count / nthreads)
  first_id = base + thread_index * per
  next_id = first_id
  last = first_id + per - 1
end

function request()
  -- wrk calls request() once on thread 0 to check it before sending anything: answer that
  -- call without consuming an id, so every consumed id was really sent.
  if thread_index == 0 and not verified then
    verified = true
    return wrk.format("POST", "/orders/checkout/" .. first_id)
  end
  if next_id > last then
    -- The range was too small for this run: stop the thread and let the report fail loudly.
    exhausted = exhausted + 1
    wrk.thread:stop()
    return wrk.format("POST", "/orders/checkout/range-exhausted")
  end
  local id = next_id
  next_id = next_id + 1
  sent = sent + 1
  return wrk.format("POST", "/orders/checkout/" .. id)
end
