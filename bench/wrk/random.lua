-- (a) the course stress shape: POST checkout of a random order id in 0 .. n-1.
-- args: n

local n

function init(args)
  n = tonumber(args[1])
  -- Threads must not replay each other's sequence.
  math.randomseed(os.time() * 1000 + thread_index * 7919)
end

function request()
  sent = sent + 1
  return wrk.format("POST", "/orders/checkout/" .. math.random(0, n - 1))
end
