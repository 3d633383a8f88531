#!/usr/bin/env python3
"""Wall time of the dust-test workflow of BENCHMARKS.md with the simulation report on against off
(issue #14; goal: on <= 1.5x off), measured in one run.

Two `forkrun serve` are started here from the same binary, each with chain 31337 forked from a
devnet anvil of its own with a warm pool of 1 fork: one with `"simulationReport": true` (the
default), one with `false`. Per round, on each server in turn: POST /v1/runs of the dust-test
simulation (tools/bench-dust.py's workflow: setBalance, transfer, rpc eth_getBalance, assert) in
`pool` mode, then GET /v1/runs/{id}?waitUntil=terminal over one kept-alive connection; the time
is from sending the POST to the terminal answer, and the run must be `success`. The report side
must show a trace and the chain's changes, the other neither. Rounds alternate off, on, off, on,
... after untimed warm-up rounds. Prints per side median, p90 and min wall ms, the ratio of the
medians, each side's median per-node and teardown ms and median totalCu. Exits 1 when the goal
is missed.

Usage: tools/bench-report.py [--forkrun BIN] [--anvil ANVIL] [--rounds N] [--warmup N]
  (defaults: build/forkrun, the anvil of tools/node_modules, 30 rounds, 3 warm-up)
Run it under `nice -n 5` on a shared machine.
"""
import argparse
import importlib.util
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("bench_dust", os.path.join(ROOT, "tools/bench-dust.py"))
bd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bd)


def start_server(a, work, name, report, token_file):
    cfg = {"chains": {str(bd.CHAIN): {"poolSize": 1}}, "devnet": [bd.CHAIN], "anvilPath": a.anvil,
           "cuTable": os.path.join(ROOT, "fixtures/cu/alchemy-2026-11.json"),
           "blocksDir": os.path.join(ROOT, "fixtures/blocks"), "simulationReport": report}
    cfg_path = os.path.join(work, name + "-config.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    err = open(os.path.join(work, name + ".err"), "w")
    srv = subprocess.Popen([a.forkrun, "serve", "--listen", "127.0.0.1:0", "--tokens", token_file,
                            "--no-access-log", "--config", cfg_path],
                           stdout=subprocess.PIPE, stderr=err, text=True)
    base = None
    for line in srv.stdout:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            base = m.group(1)
            break
    if not base:
        raise RuntimeError("forkrun (%s) did not start; see %s" % (name, err.name))
    bd.drain(srv.stdout)
    deadline = time.time() + 120
    while time.time() < deadline:  # the devnet upstream and the pool's fork
        live = int(subprocess.run(["pgrep", "-c", "-P", str(srv.pid)],
                                  capture_output=True, text=True).stdout or 0)
        if live >= 2:
            break
        time.sleep(0.2)
    return srv, base


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--forkrun", default=os.path.join(ROOT, "build/forkrun"))
    ap.add_argument("--anvil", default=os.path.join(
        ROOT, "tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="forkrun-bench-report.")
    # A private copy: others may rebuild build/ while this measures.
    binary = os.path.join(work, "forkrun")
    subprocess.run(["cp", a.forkrun, binary], check=True)
    a.forkrun = binary
    token = "tok_report_" + secrets.token_hex(16)
    token_file = os.path.join(work, "tokens.json")
    with open(token_file, "w") as f:
        json.dump([{"token": token, "organizationId": "org_bench", "subject": "bench-report",
                    "scopes": ["runs:read", "runs:write"]}], f)
    procs = []

    def stop_all(*_):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    signal.signal(signal.SIGTERM, lambda s, _: (stop_all(), sys.exit(128 + s)))
    try:
        sides = {}
        for name, report in (("off", False), ("on", True)):
            srv, base = start_server(a, work, name, report, token_file)
            procs.append(srv)
            sides[name] = bd.Conn(base)
        return measure(a, sides, token)
    finally:
        stop_all()


def measure(a, sides, token):
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    auth = {"Authorization": "Bearer " + token}
    sink_no = [0]

    def one(name):
        sink_no[0] += 1
        body = bd.dust_body("0x%040x" % (0xd057_0000_0000 + sink_no[0]))
        api = sides[name]
        t0 = time.perf_counter()
        st, r = api.req("POST", "/v1/runs", body, auth)
        assert st == 201, r
        st, r = api.req("GET", "/v1/runs/%s?waitUntil=terminal&timeoutMs=20000" % r["data"]["id"],
                        None, auth)
        ms = (time.perf_counter() - t0) * 1000.0
        run = r["data"]
        es = run["executionState"]
        assert st == 200 and run["status"] == "success", (run["status"], es)
        has_report = "trace" in es["nodes"]["send"]["output"] and bool(es["changes"])
        assert has_report == (name == "on"), es
        nodes = es["nodes"]
        per_node = {n: bd.ts_ms(nodes[n]["finishedAt"]) - bd.ts_ms(nodes[n]["startedAt"])
                    for n in bd.NODES}
        teardown = bd.ts_ms(run["finishedAt"]) - bd.ts_ms(nodes["check"]["finishedAt"])
        return ms, per_node, teardown, run["totalCu"]

    for _ in range(a.warmup):
        one("off")
        one("on")
    res = {"off": [], "on": []}
    for i in range(a.rounds):
        for name in ("off", "on"):
            res[name].append(one(name))
        print("round %d/%d: off %.1f ms, on %.1f ms" % (i + 1, a.rounds, res["off"][-1][0],
                                                         res["on"][-1][0]), file=sys.stderr)
    med = {k: statistics.median(x[0] for x in v) for k, v in res.items()}
    ratio = med["on"] / med["off"]
    print("date: %s" % started)
    print("command: %s" % " ".join(sys.argv))
    print("rounds: %d per side, alternating (after %d warm-up per side)" % (a.rounds, a.warmup))
    print("%-22s %9s %9s %9s" % ("wall ms", "median", "p90", "min"))
    for name in ("off", "on"):
        xs = [x[0] for x in res[name]]
        print("%-22s %9.1f %9.1f %9.1f" % ("report " + name, statistics.median(xs),
                                            bd.pct(xs, 90), min(xs)))
    print("ratio on/off (medians): %.2fx  goal <= 1.5x: %s" % (ratio,
                                                             "met" if ratio <= 1.5 else "MISSED"))
    for name in ("off", "on"):
        parts = {n: statistics.median(x[1][n] for x in res[name]) for n in bd.NODES}
        print("report %s: median ms per node %s; last node -> finished (teardown) %.1f; "
              "totalCu %d" % (name, ", ".join("%s %.1f" % kv for kv in parts.items()),
                              statistics.median(x[2] for x in res[name]),
                              statistics.median(x[3] for x in res[name])))
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
