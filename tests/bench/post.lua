-- SPDX-License-Identifier: GPL-2.0-or-later
-- wrk script: POST one fixed body, optionally paced to a constant rate.
--   wrk ... -s post.lua URL -- BODY_FILE|- CONTENT_TYPE [AUTHORIZATION|-] [RATE]
-- (BODY_FILE "-": a GET without a body, CONTENT_TYPE ignored)
-- With RATE (requests/s per wrk thread; the bench runs one), requests leave
-- on a fixed schedule (start + k / RATE, shared by the thread's
-- connections): wrk calls delay() before every request, and we wait until the
-- next slot, or not at all when behind (no slot is skipped,
-- so a slow response is followed by a catch-up burst, as an open-loop client
-- would send). Latency is measured by wrk from the moment a request is
-- written, so time a request spends waiting for its own slot to come is not
-- counted (see README "Performance").
-- done() prints one machine-readable line for tests/bench/bench.py.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
]]

local function now_ms()
   local ts = ffi.new("bench_timespec")
   ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
   return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local interval, next_slot

function init(args)
   if args[1] == "-" then
      wrk.method = "GET"
   else
      local f = assert(io.open(args[1], "rb"))
      wrk.body = f:read("*a")
      f:close()
      wrk.method = "POST"
      wrk.headers["Content-Type"] = args[2]
   end
   if args[3] and args[3] ~= "-" then
      wrk.headers["Authorization"] = args[3]
   end
   if args[4] then
      -- wrk runs one Lua state per thread; the connections of a thread share
      -- this schedule, so the rate given is per thread, spread over them.
      interval = 1000 / tonumber(args[4])
   end
end

function delay()
   if interval == nil then
      return 0
   end
   local t = now_ms()
   if next_slot == nil then
      next_slot = t
   end
   next_slot = next_slot + interval
   local d = next_slot - t
   if d < 0 then
      return 0
   end
   return math.floor(d)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
      "p50_us=%d p99_us=%d max_us=%d\n",
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end
