-- wrk -s create-cancel.lua URL [-- nginx]: create-then-cancel of waiting runs.
--
-- forkrun: each wrk thread keeps a FIFO of the run ids its creates answered (201). A connection
-- that is ready to send cancels the oldest id in the FIFO (POST /v1/runs/{id}/cancel), or creates
-- a run (POST /v1/runs with BENCH_BODY_FILE) when the FIFO is empty. Every created run is
-- cancelled exactly once, by whichever connection is free first, so creates and cancels alternate
-- and differ by at most the connection count. wrk's Requests/sec counts both kinds: one
-- create+cancel pair is two requests.
--
-- nginx (argument "nginx"): the same number of requests alternating GET /create-wait.json and
-- GET /cancel.json, static files holding the exact bytes of forkrun's two answers.
--
-- Environment: BENCH_BODY_FILE, BENCH_TOKEN. done() prints the answers by kind.
local token = os.getenv("BENCH_TOKEN") or ""
local body = ""
local path = os.getenv("BENCH_BODY_FILE")
if path then
    local f = assert(io.open(path, "rb"))
    body = f:read("*a")
    f:close()
end

local create_headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
local cancel_headers = {["Authorization"] = "Bearer " .. token}

local threads = {}
function setup(thread)
    table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state); globals so done() can read them.
created, cancelled, other = 0, 0, 0
local nginx = false
local ids, head, tail = {}, 1, 0
local flip = false

function init(args)
    nginx = args[1] == "nginx"
end

function request()
    if nginx then
        flip = not flip
        return wrk.format("GET", flip and "/create-wait.json" or "/cancel.json", cancel_headers)
    end
    if head <= tail then
        local id = ids[head]
        ids[head] = nil
        head = head + 1
        return wrk.format("POST", "/v1/runs/" .. id .. "/cancel", cancel_headers)
    end
    return wrk.format("POST", "/v1/runs", create_headers, body)
end

function response(status, headers, resp)
    if status == 201 then
        created = created + 1
        local id = resp:match('"id":"([^"]+)"')
        if id then
            tail = tail + 1
            ids[tail] = id
        end
    elseif status == 200 then
        cancelled = cancelled + 1
    else
        other = other + 1
    end
end

function done(summary, latency, requests)
    local c, x, o = 0, 0, 0
    for _, t in ipairs(threads) do
        c = c + t:get("created")
        x = x + t:get("cancelled")
        o = o + t:get("other")
    end
    io.write(string.format("bench: answers 201 %d, 200 %d, other %d\n", c, x, o))
end
