-- bench/post.lua: wrk script for scripts/bench.
--
-- POSTs the file BENCH_BODY with "X-Hub-Signature: BENCH_SIG" (and the
-- path of the URL given to wrk) on every request.  With BENCH_LIMIT set,
-- each of the BENCH_THREADS threads stops after its share of BENCH_LIMIT
-- responses, so that a run is bounded by a request count (-d stays the
-- upper bound of its time).  done() prints one line that bench/benchlib.py reads:
--
--   BENCH requests=N duration_us=N non2xx=N connect=N read=N write=N
--         timeout=N p50_us=N p90_us=N p99_us=N mean_us=N max_us=N
--
-- non2xx is wrk's count of answers with a status above 399 (wrk counts
-- nothing else as an error status); the bench's servers send no 1xx/3xx.

local f = assert(io.open(assert(os.getenv("BENCH_BODY"), "BENCH_BODY unset"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Hub-Signature"] = assert(os.getenv("BENCH_SIG"), "BENCH_SIG unset")

local limit = tonumber(os.getenv("BENCH_LIMIT") or "")
if limit then
	local share = math.ceil(limit / tonumber(os.getenv("BENCH_THREADS") or "1"))
	local seen = 0
	function response(status, headers, b)
		seen = seen + 1
		if seen >= share then
			wrk.thread:stop()
		end
	end
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
