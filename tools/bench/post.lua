-- wrk -s post.lua URL: POSTs one JSON body over and over (creates runs).
-- Environment: BENCH_BODY_FILE (the JSON body), BENCH_TOKEN (bearer token),
-- BENCH_LIMIT (optional: each wrk thread stops after that many responses; requests already in
-- flight on its other connections still reach the server, so count on the server side),
-- BENCH_DONE_FILE (optional: created when a thread reaches BENCH_LIMIT, so a caller can end wrk
-- with SIGINT instead of waiting for -d).
local f = assert(io.open(assert(os.getenv("BENCH_BODY_FILE"), "BENCH_BODY_FILE unset"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN unset")

local limit = tonumber(os.getenv("BENCH_LIMIT") or "")
if limit then
    local n = 0
    function response(status, headers, body)
        n = n + 1
        if n == limit then
            local done = os.getenv("BENCH_DONE_FILE")
            if done then
                io.open(done, "w"):close()
            end
            wrk.thread:stop()
        end
    end
end
