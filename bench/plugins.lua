-- bench/plugins.lua: wrk script for bench/plugins.py.
--
-- POSTs a different signed event on every request, so that a destination
-- that drops repeats (JetStream's duplicate window, ON CONFLICT DO NOTHING)
-- stores each one.  BENCH_EVENTS names a file of lines "signature<TAB>body";
-- of BENCH_THREADS threads, thread k sends lines k+1, k+1+BENCH_THREADS, ...
-- and stops when its lines run out.  done() prints the line bench/post.lua
-- prints, which plugins.py reads:
--
--   BENCH requests=N duration_us=N non2xx=N connect=N read=N write=N
--         timeout=N p50_us=N p90_us=N p99_us=N mean_us=N max_us=N

local threads = {}
local counter = 0

function setup(thread)
	thread:set("tid", counter)
	counter = counter + 1
	table.insert(threads, thread)
end

function init(args)
	local path = assert(os.getenv("BENCH_EVENTS"), "BENCH_EVENTS unset")
	local step = tonumber(os.getenv("BENCH_THREADS") or "1")
	events = {}
	local n = 0
	for line in io.lines(path) do
		if n % step == tid then
			local tab = line:find("\t", 1, true)
			table.insert(events, {line:sub(1, tab - 1), line:sub(tab + 1)})
		end
		n = n + 1
	end
	next_event = 1
end

function request()
	local e = events[next_event]
	if e == nil then
		wrk.thread:stop()
		e = events[#events]
	end
	next_event = next_event + 1
	return wrk.format("POST", nil, {
		["Content-Type"] = "application/json",
		["X-Hub-Signature"] = e[1],
	}, e[2])
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"BENCH requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d " ..
		"timeout=%d p50_us=%d p90_us=%d p99_us=%d mean_us=%.1f max_us=%d\n",
		summary.requests, summary.duration, e.status, e.connect, e.read, e.write,
		e.timeout, latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency.mean, latency.max))
end
