#!/usr/bin/env python3
"""Wall time of the dust-test workflow on a forkrun pool fork against the same calls made with
cast in a shell script, measured in one run (issue #4; goal: forkrun no slower than the script).

The workflow: root -> setBalance (dev account #0, 100 ETH) -> transfer (1 ETH requested, capped
to the 1000 wei dust amount) -> rpc eth_getBalance of the sink -> assert equals 1000.

(A) forkrun: a `forkrun serve` started here, its chain 31337 forked from a devnet anvil with a
    warm pool of 1 fork. Per round: POST /v1/runs of the dust-test simulation in `pool` mode,
    then GET /v1/runs/{id}?waitUntil=terminal (both over one kept-alive connection); the time is
    from sending the POST to the terminal answer, and the run must be `success`.
(B) cast: tools/bench/dust-cast.sh against one anvil fork of the same devnet upstream, spawned
    once before timing with the same arguments forkrun gives its forks (a warm fork, like a pool
    fork); the time is the whole script (three cast processes: rpc anvil_setBalance, send, which
    waits for the receipt, balance), and it must exit 0.

Both sides send to a fresh sink address each round (so both make the fork look the account up
upstream once). Rounds are interleaved A, B, A, B, ... after untimed warm-up rounds. Prints per
side the median, p90 and min wall ms, the ratio forkrun/cast of the medians, forkrun's median
time per part (accept: POST sent -> run startedAt; lease: -> first node started; each node;
gaps between nodes; finish: last node -> run finishedAt; answer: -> terminal answer received;
from the run's ms timestamps) and, for context, the median start of one cast process doing
nothing (`cast --version`, run after each round, outside the timing). Exits 1 when the goal
(ratio <= 1.0) is missed.

Usage (normally through tools/bench-dust.sh, which builds forkrun and installs cast):
  tools/bench-dust.py --forkrun BIN --anvil ANVIL --cast CAST --tokens FILE --token TOKEN
                      --work DIR [--rounds N] [--warmup N] [--command TEXT]
"""
import argparse
import datetime
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAIN = 31337
DEV0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
NODES = ("fund", "send", "bal", "check")


def pct(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def ts_ms(s):
    """Milliseconds since the epoch of an RFC 3339 UTC timestamp with milliseconds."""
    d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return d.timestamp() * 1000.0


class Conn:
    """A kept-alive HTTP/1.1 connection to one host."""

    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    def req(self, method, path, body=None, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        self.c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = self.c.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else None


def drain(stream):
    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()


def spawn_anvil(anvil, args):
    p = subprocess.Popen([anvil, "--port", "0", "--host", "127.0.0.1"] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        m = re.search(r"Listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            drain(p.stdout)
            return p, "http://127.0.0.1:%s" % m.group(1)
    raise RuntimeError("anvil did not start")


def dust_body(sink):
    return {
        "workflowId": "bench_dust", "workflowVersion": 1, "isSimulation": True,
        "isDustTest": True, "simulationMode": "pool", "chains": [CHAIN],
        "workflowDefinition": {"nodes": {
            "root": {"type": "manual", "children": ["fund"]},
            "fund": {"type": "setBalance", "children": ["send"],
                     "props": {"chainId": CHAIN, "address": DEV0,
                               "valueWei": "100000000000000000000"}},
            "send": {"type": "transfer", "children": ["bal"],
                     "props": {"chainId": CHAIN, "to": sink,
                               "valueWei": "1000000000000000000"}},
            "bal": {"type": "rpc", "children": ["check"],
                    "props": {"chainId": CHAIN, "method": "eth_getBalance",
                              "params": [sink, "latest"]}},
            "check": {"type": "assert",
                      "props": {"value": "{{nodes.bal.output}}", "equals": 1000}},
        }},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--forkrun", required=True)
    ap.add_argument("--anvil", required=True)
    ap.add_argument("--cast", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2, help="untimed rounds per side first")
    ap.add_argument("--command", default=" ".join(sys.argv), help="the command to print")
    a = ap.parse_args()
    if a.rounds < 1 or a.warmup < 0:
        ap.error("--rounds must be >= 1 and --warmup >= 0")

    procs = []

    def stop_all(*_):
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        procs.clear()

    def on_signal(signum, _):
        stop_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return run(a, procs)
    finally:
        stop_all()


def run(a, procs):
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    cfg = {"chains": {str(CHAIN): {"poolSize": 1}}, "devnet": [CHAIN], "anvilPath": a.anvil,
           "cuTable": os.path.join(ROOT, "fixtures/cu/alchemy-2026-11.json"),
           "blocksDir": os.path.join(ROOT, "fixtures/blocks")}
    cfg_path = os.path.join(a.work, "dust-config.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    srv_err = open(os.path.join(a.work, "server.err"), "w")
    srv = subprocess.Popen([a.forkrun, "serve", "--listen", "127.0.0.1:0", "--tokens", a.tokens,
                            "--no-access-log", "--config", cfg_path],
                           stdout=subprocess.PIPE, stderr=srv_err, text=True)
    procs.append(srv)
    base = upstream = None
    for line in srv.stdout:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            base = m.group(1)
        m = re.search(r"^chain %d: forks (http://\S+)," % CHAIN, line)
        if m:
            upstream = m.group(1)
        if base and upstream:
            break
    if not (base and upstream):
        print("forkrun did not start (see %s/server.err)" % a.work, file=sys.stderr)
        return 2
    drain(srv.stdout)
    auth = {"Authorization": "Bearer " + a.token}
    api = Conn(base)

    # Wait for the pool's fork (the devnet upstream and one pooled fork).
    deadline = time.time() + 120
    while time.time() < deadline:
        live = int(subprocess.run(["pgrep", "-c", "-P", str(srv.pid)],
                                  capture_output=True, text=True).stdout or 0)
        if live >= 2:
            break
        time.sleep(0.2)

    # The cast side's warm fork: forkrun's fork arguments, same upstream, spawned untimed.
    fork, rpc = spawn_anvil(a.anvil, ["--chain-id", str(CHAIN), "--fork-url", upstream,
                                      "--no-storage-caching"])
    procs.append(fork)
    env = dict(os.environ, CAST=a.cast)
    script = os.path.join(ROOT, "tools/bench/dust-cast.sh")
    sink_no = [0]

    def next_sink():
        sink_no[0] += 1
        return "0x%040x" % (0xd057_0000_0000 + sink_no[0])

    def forkrun_round():
        body = dust_body(next_sink())
        w0 = time.time() * 1000.0
        t0 = time.perf_counter()
        st, r = api.req("POST", "/v1/runs", body, auth)
        assert st == 201, r
        rid = r["data"]["id"]
        st, r = api.req("GET", "/v1/runs/%s?waitUntil=terminal&timeoutMs=20000" % rid, None, auth)
        t1 = time.perf_counter()
        w1 = time.time() * 1000.0
        run_ = r["data"]
        assert st == 200 and run_["status"] == "success", (run_["status"],
                                                           run_["executionState"])
        # Where the time goes, from the run's own timestamps (ms resolution, same clock):
        # POST sent -> run accepted -> first node started (pool lease) -> nodes (and the gaps
        # between them) -> run finished -> terminal answer received.
        nodes = run_["executionState"]["nodes"]
        start = {n: ts_ms(nodes[n]["startedAt"]) for n in NODES}
        end = {n: ts_ms(nodes[n]["finishedAt"]) for n in NODES}
        parts = {"accept": ts_ms(run_["startedAt"]) - w0,
                 "lease": start["fund"] - ts_ms(run_["startedAt"])}
        parts.update({n: end[n] - start[n] for n in NODES})
        parts["gaps"] = sum(start[b] - end[a] for a, b in zip(NODES, NODES[1:]))
        parts["finish"] = ts_ms(run_["finishedAt"]) - end["check"]
        parts["answer"] = w1 - ts_ms(run_["finishedAt"])
        return (t1 - t0) * 1000.0, parts

    def cast_round():
        sink = next_sink()
        t0 = time.perf_counter()
        # Its own process group, so that a signal mid-round takes its cast child down too.
        p = subprocess.Popen([script, rpc, sink], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            err = p.communicate()[1]
        except BaseException:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise
        t1 = time.perf_counter()
        assert p.returncode == 0, err
        return (t1 - t0) * 1000.0

    def cast_start():
        """One cast process doing nothing (--version): the floor of each of the script's calls."""
        t0 = time.perf_counter()
        subprocess.run([a.cast, "--version"], capture_output=True, check=True)
        return (time.perf_counter() - t0) * 1000.0

    for _ in range(a.warmup):
        forkrun_round()
        cast_round()
    fr, ca, floor, parts = [], [], [], {}
    for i in range(a.rounds):
        ms, pr = forkrun_round()
        fr.append(ms)
        for k, v in pr.items():
            parts.setdefault(k, []).append(v)
        ca.append(cast_round())
        floor.append(cast_start())
        print("round %d/%d: forkrun %.1f ms, cast %.1f ms" % (i + 1, a.rounds, fr[-1], ca[-1]),
              file=sys.stderr)

    ratio = statistics.median(fr) / statistics.median(ca)
    print("date: %s" % started)
    print("command: %s" % a.command)
    print("rounds: %d interleaved (after %d warm-up per side); %s" % (
        a.rounds, a.warmup, subprocess.run([a.cast, "--version"], capture_output=True,
                                           text=True).stdout.splitlines()[0]))
    print("%-26s %9s %9s %9s" % ("wall ms", "median", "p90", "min"))
    for name, xs in (("forkrun (POST..terminal)", fr), ("cast (dust-cast.sh)", ca)):
        print("%-26s %9.1f %9.1f %9.1f" % (name, statistics.median(xs), pct(xs, 90), min(xs)))
    print("ratio forkrun/cast (medians): %.2fx  goal <= 1.0x: %s" % (
        ratio, "met" if ratio <= 1.0 else "MISSED"))
    print("forkrun median ms per part: " + ", ".join(
        "%s %.1f" % (k, statistics.median(v)) for k, v in parts.items()))
    print("cast process start alone (cast --version, untimed above): median %.1f ms; "
          "dust-cast.sh starts 3" % statistics.median(floor))
    return 0 if ratio <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
