#!/usr/bin/env bash
# Fault test (issue #5 item 4), too slow for the suite: SIGTERM a server while 200 simulation
# runs are live, and check that it exits 0 within 10 s, that every run was cancelled with reason
# `shutdown` by the server itself (not by the last-resort exit), and that no anvil is left.
#
#   tools/fault-shutdown.sh [--runs N] [--modes fork,pool,fork-early]
#
# Modes (all by default): `fork` waits until every run has its own fork (200 anvils, ~5 GB;
# created 20 runs at a time) before SIGTERM; `pool` runs them on a warm pool of 8 (8 leases, the
# rest waiting for one); `fork-early` creates them all at once and sends SIGTERM while their forks
# are still starting (once every run's anvil is spawned, or after 10 s: with the server's spawn
# cap, forkSpawnLimit, most are then still waiting their turn and a few are starting).
# Uses $FORKRUN_BIN (default build/forkrun) and $FORKRUN_ANVIL (default the pinned npm anvil).
# Exits non-zero, saying why, on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FORKRUN_BIN="${FORKRUN_BIN:-$root/build/forkrun}"
export FORKRUN_ANVIL="${FORKRUN_ANVIL:-$root/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}"
runs=200
modes="fork,pool,fork-early"
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --modes) modes="$2"; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--modes fork,pool,fork-early]" >&2; exit 2 ;;
    esac
done
for f in "$FORKRUN_BIN" "$FORKRUN_ANVIL"; do
    [ -x "$f" ] || { echo "fault-shutdown: $f is not an executable (build first)" >&2; exit 2; }
done

exec python3 - "$runs" "$modes" <<'PY'
import concurrent.futures, json, os, re, shutil, signal, subprocess, sys, tempfile, time, urllib.request

RUNS = int(sys.argv[1])
MODES = sys.argv[2].split(",")
TOKEN = "tok_fault_shutdown"
POOL = 8


def log(*a):
    print("fault-shutdown:", *a, flush=True)


def procs():
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        out[int(d)] = (comm, state, int(ppid), cmd)
    return out


def anvil_descendants(root):
    ps = procs()
    found, todo = [], [root]
    while todo:
        parent = todo.pop()
        for pid, (comm, state, ppid, cmd) in ps.items():
            if ppid == parent:
                todo.append(pid)
                if comm == "anvil":
                    found.append((pid, state, cmd))
    return found


def request(base, method, path, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def run_mode(mode):
    failures = []
    passed = False
    tmp = tempfile.mkdtemp(prefix="forkrun-fault-shutdown-")
    tokens = os.path.join(tmp, "tokens.json")
    config = os.path.join(tmp, "config.json")
    with open(tokens, "w") as f:
        json.dump([{"token": TOKEN, "organizationId": "org_fault", "subject": "fault",
                    "scopes": ["runs:read", "runs:write"]}], f)
    with open(config, "w") as f:
        # The quotas of live forks (16 per organization, 64 in all by default) would refuse
        # most of the runs: this test is about 200 forks at once, so it lifts them.
        json.dump({"chains": {"1": {"poolSize": POOL if mode == "pool" else 0}},
                   "devnet": [1], "leaseTimeoutMs": 120000,
                   "maxLiveForksPerOrg": RUNS, "maxLiveForks": RUNS}, f)
    out_path, err_path = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
    out, err = open(out_path, "w"), open(err_path, "w")
    server = subprocess.Popen([os.environ["FORKRUN_BIN"], "serve", "--listen", "127.0.0.1:0",
                               "--tokens", tokens, "--config", config, "--no-access-log"],
                              stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    try:
        base = upstream = None
        deadline = time.time() + 60
        while time.time() < deadline and not (base and upstream):
            text = open(out_path).read()
            m = re.search(r"listening on (http://[0-9.]+:[0-9]+)", text)
            base = m.group(1) if m else None
            m = re.search(r"chain 1: forks (http://[0-9.]+:[0-9]+)", text)
            upstream = m.group(1) if m else None
            time.sleep(0.05)
        if not base or not upstream or server.poll() is not None:
            return [f"{mode}: the server did not start: {open(err_path).read()[-2000:]}"]

        body = {"workflowId": "wf_fault_shutdown", "workflowVersion": 1, "isSimulation": True,
                "simulationMode": "pool" if mode == "pool" else "fork", "chains": [1],
                "workflowDefinition": {"nodes": {
                    "root": {"type": "manual", "children": ["w"]},
                    "w": {"type": "wait", "props": {"seconds": 600}}}}}
        started = time.time()

        def count_live():
            """(runs with a fork, runs that ended) of this script's runs."""
            forked, ended = 0, []
            path = "/v1/runs?limit=200&workflowId=wf_fault_shutdown&view=full"
            while path:
                status, page = request(base, "GET", path)
                for r in page["data"]["runs"]:
                    forked += bool(r["simulationForks"])
                    if r["status"] in ("success", "failure", "cancelled"):
                        ended.append(r)
                cursor = page["data"]["nextCursor"]
                path = path.split("&cursor=")[0] + "&cursor=" + cursor if cursor else None
            return forked, ended

        # `fork` brings its forks up in batches (so that the spawn burst of a loaded machine does
        # not fail runs before the shutdown this tests); the other modes create all at once.
        batch = 20 if mode == "fork" else RUNS
        ids = []
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            while len(ids) < RUNS:
                n = min(batch, RUNS - len(ids))
                created = list(pool.map(lambda _: request(base, "POST", "/v1/runs", body),
                                        range(n)))
                bad = [c for c in created if c[0] != 201]
                if bad:
                    return [f"{mode}: {len(bad)} creates failed, e.g. {bad[0]}"]
                ids += [c[1]["data"]["id"] for c in created]
                deadline = time.time() + 120
                while mode == "fork":
                    forked, ended = count_live()
                    if forked >= len(ids) or ended or time.time() > deadline:
                        break
                    time.sleep(0.2)

        # Wait until the runs are live the way the mode wants them: `fork-early` until every
        # fork's anvil has been spawned (most not ready yet), the others until forks are up.
        want = {"fork": RUNS, "pool": min(POOL, RUNS), "fork-early": 0}[mode]
        deadline = time.time() + 300
        while mode == "fork-early":
            spawned = [p for p in anvil_descendants(server.pid) if p[1] != "Z"]
            if len(spawned) >= RUNS + 1 or time.time() > started + 10:
                break
            time.sleep(0.05)
        while True:
            forked, ended = count_live()
            if ended:
                error = ended[0]["executionState"]["error"]
                return [f"{mode}: {len(ended)} runs ended before SIGTERM, e.g. "
                        f"{ended[0]['status']}: {error and error['message']}"]
            if forked >= want:
                break
            if time.time() > deadline:
                return [f"{mode}: only {forked} of {want} runs got a fork within 300 s"]
            time.sleep(0.5)
        status, health = request(base, "GET", "/healthz")
        if status != 200:
            failures.append(f"{mode}: healthz before SIGTERM answered {status}")
        live = [p for p in anvil_descendants(server.pid) if p[1] != "Z"]
        log(f"{mode}: {RUNS} runs live ({forked} with a fork) after {time.time() - started:.1f} s;"
            f" {len(live)} anvils, activeRuns {health['data']['activeRuns']}; sending SIGTERM")

        t0 = time.time()
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            code = server.wait()
            failures.append(f"{mode}: the server was still running 15 s after SIGTERM")
        took = time.time() - t0
        log(f"{mode}: exited with {code} after {took:.2f} s")
        if code != 0:
            failures.append(f"{mode}: exit status {code}, want 0")
        if took >= 10:
            failures.append(f"{mode}: took {took:.2f} s to exit, want < 10 s")

        # Every run was cancelled by the server's own shutdown, not by the last-resort exit.
        cancelled = set()
        for line in open(err_path):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") == "run.transition" and e.get("to") == "cancelled":
                cancelled.add(e.get("runId"))
        missing = [i for i in ids if i not in cancelled]
        if missing:
            failures.append(f"{mode}: {len(missing)} of {RUNS} runs were never logged cancelled"
                            " (the server did not shut them down itself)")

        # No anvil left: none of those seen before, and none forking our upstream.
        time.sleep(0.2)  # the kernel's reparenting of orphans is not instantaneous
        ps = procs()
        survivors = [p for p, _, _ in live if p in ps and ps[p][1] != "Z"]
        port = upstream.rsplit(":", 1)[1]
        strays = [p for p, (comm, state, _, cmd) in ps.items()
                  if comm == "anvil" and state != "Z" and
                  (f"127.0.0.1:{port}" in cmd or f"--port {port}" in cmd)]
        if survivors or strays:
            failures.append(f"{mode}: anvils left after exit: {sorted(set(survivors + strays))}")
        log(f"{mode}: anvils before {len(live)}, after {len(set(survivors + strays))}")
        passed = not failures
        return failures
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        out.close()
        err.close()
        if passed:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"{mode}: the server's output is kept in {tmp}")


failures = []
for mode in MODES:
    failures += run_mode(mode)
for f in failures:
    log("FAIL", f)
if failures:
    sys.exit(1)
log("ok:", ", ".join(MODES))
PY
