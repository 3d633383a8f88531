#!/usr/bin/env python3
"""Fork provisioning, cancel and gateway latency of forkrun, against raw anvil in the same run.

Starts `forkrun serve` with a devnet upstream per chain, then for 1, 4 and 8 chains and both
simulation modes measures create-until-running and cancel latency (p50, p99), the reference being
raw anvil spawn-to-ready of the same fork count (spawned in parallel, forking the same upstreams,
ready when eth_chainId answers); those chains have spawnAhead 0 (every fork-mode fork started on
demand). Then, on one more chain with spawnAhead 1, three rounds of fork-mode provisioning with
the fork started ahead (each create waits until /metrics shows it ready: the steady state of runs
that come less often than an anvil takes to start), each against raw anvil spawn-to-ready in the
same round, three rounds of pool provisioning of that chain, and as its floor the same create and
wait of a run that is no simulation (no fork to provision). Finally the gateway's overhead
per forwarded call against a direct call to an anvil fork, both over kept-alive connections, and
as its reference a private nginx proxying to that same anvil (what one extra hop costs a minimal
proxy here).

With --pool-loop SECONDS it only repeats pool provisioning of that chain for SECONDS and prints
the server's pid first, for `perf record -g -p PID` (BENCHMARKS.md).

Usage: tools/bench-forks.py [--build DIR] [--rounds N] [--pool-rounds N] [--ahead-rounds N]
                            [--calls N] [--only-ahead] [--pool-loop SECONDS]
"""
import argparse
import atexit
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANVIL = os.path.join(ROOT, "tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
CHAINS = [1001 + i for i in range(8)]
AHEAD_CHAIN = 1009  # spawnAhead 1; the others have none


def pct(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


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


def rpc_body(method):
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": []}


def spawn_anvil(args):
    p = subprocess.Popen([ANVIL, "--port", "0"] + args, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        m = re.search(r"Listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, int(m.group(1))
    raise RuntimeError("anvil did not start")


def raw_spawn_to_ready(upstreams):
    """Spawns one fork per upstream in parallel; seconds until all answer eth_chainId."""
    t0 = time.perf_counter()
    procs = []
    done = []

    def one(up):
        home = tempfile.mkdtemp()
        p, port = spawn_anvil(["--fork-url", up, "--no-storage-caching"])
        c = Conn("http://127.0.0.1:%d" % port)
        c.req("POST", "/", rpc_body("eth_chainId"))
        procs.append((p, home))
        done.append(time.perf_counter())

    ts = [threading.Thread(target=one, args=(u,)) for u in upstreams]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = max(done) - t0
    for p, _ in procs:
        p.send_signal(signal.SIGTERM)
        p.wait()
    return elapsed


def nginx_proxy(port):
    """A private nginx (one worker, keep-alive upstream) proxying to 127.0.0.1:port: the
    reference for what one extra loopback hop costs a minimal proxy on this machine. Returns
    (process, its port)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        listen = s.getsockname()[1]
    d = tempfile.mkdtemp(prefix="bench-forks-nginx-")
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; master_process off; worker_processes 1;
error_log %(d)s/error.log; pid %(d)s/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %(d)s/body; proxy_temp_path %(d)s/proxy;
  fastcgi_temp_path %(d)s/fcgi; uwsgi_temp_path %(d)s/uwsgi; scgi_temp_path %(d)s/scgi;
  upstream fork { server 127.0.0.1:%(port)d; keepalive 8; }
  server {
    listen 127.0.0.1:%(listen)d;
    location / { proxy_pass http://fork; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
""" % {"d": d, "port": port, "listen": listen})
    proc = subprocess.Popen(["/usr/sbin/nginx", "-p", d + "/", "-c", conf, "-e", d + "/error.log"])
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            Conn("http://127.0.0.1:%d" % listen).req("POST", "/", rpc_body("eth_chainId"))
            return proc, listen
        except OSError:
            time.sleep(0.01)
    raise SystemExit("nginx did not start: see " + d)


def metric(api, series):
    """The value of one sample of /metrics."""
    api.c.request("GET", "/metrics")
    text = "\n" + api.c.getresponse().read().decode()
    m = re.search("\n" + re.escape(series) + r" (\S+)", text)
    return float(m.group(1)) if m else None


def provision(api, auth, mode, chains, wait_nodes):
    """Create until running (ms) and cancel (ms) of one simulation; mode None: a run that is no
    simulation and has no fork (the floor: the same two requests, no fork to provision)."""
    body = {"workflowId": "bench", "workflowVersion": 1, "workflowDefinition": {"nodes": wait_nodes}}
    if mode is not None:
        body.update({"isSimulation": True, "simulationMode": mode, "chains": chains})
    t0 = time.perf_counter()
    st, r = api.req("POST", "/v1/runs", body, auth)
    assert st == 201, r
    rid = r["data"]["id"]
    st, r = api.req("GET", "/v1/runs/%s?waitUntil=running&timeoutMs=60000" % rid, None, auth)
    t1 = time.perf_counter()
    assert r["data"]["executionState"]["error"] is None, r["data"]["executionState"]
    st, r = api.req("POST", "/v1/runs/%s/cancel" % rid, None, auth)
    t2 = time.perf_counter()
    assert st == 200 and all(f["ok"] for f in r["data"]["executionState"]["cancellation"]["forks"]), r
    return (t1 - t0) * 1000, (t2 - t1) * 1000


def ahead_rounds(a, api, auth, wait_nodes, upstream):
    """Fork mode with the fork started ahead, and pool mode, on AHEAD_CHAIN: three rounds each."""
    print("\n1 chain, %d runs a round: fork mode with spawnAhead 1 (each create once the fork "
          "is ready) against raw anvil spawn-to-ready (5 a round), and pool mode" % a.ahead_rounds)
    print("%-5s %12s %12s %9s %13s %12s %12s %12s" % ("round", "ahead p50", "ahead p99", "taken",
                                                   "raw anvil p50", "pool p50", "pool p99",
                                                   "no-fork p50"))
    taken = "forkrun_spawn_ahead_total{event=\"taken\"}"
    for rnd in range(1, 4):
        raw = [raw_spawn_to_ready([upstream]) * 1000 for _ in range(5)]
        prov = []
        before = metric(api, taken)
        for _ in range(a.ahead_rounds):
            deadline = time.time() + 60
            while metric(api, "forkrun_spawn_ahead_ready") < 1 and time.time() < deadline:
                time.sleep(0.005)
            prov.append(provision(api, auth, "fork", [AHEAD_CHAIN], wait_nodes)[0])
        got = metric(api, taken) - before
        pool = [provision(api, auth, "pool", [AHEAD_CHAIN], wait_nodes)[0]
                for _ in range(a.ahead_rounds)]
        floor = [provision(api, auth, None, [], wait_nodes)[0] for _ in range(a.ahead_rounds)]
        print("%-5d %10.2fms %10.2fms %4d of %-2d %11.1fms %10.2fms %10.2fms %10.2fms" % (
            rnd, pct(prov, 50), pct(prov, 99), got, a.ahead_rounds, statistics.median(raw),
            pct(pool, 50), pct(pool, 99), pct(floor, 50)))
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=15, help="fork-mode rounds per chain count")
    ap.add_argument("--pool-rounds", type=int, default=50, help="pool-mode rounds per chain count")
    ap.add_argument("--ahead-rounds", type=int, default=30,
                    help="runs per round of spawn-ahead and 1-chain pool provisioning")
    ap.add_argument("--calls", type=int, default=1000, help="gateway calls to time")
    ap.add_argument("--only-ahead", action="store_true",
                    help="only the spawn-ahead and 1-chain pool rounds")
    ap.add_argument("--only-gateway", action="store_true",
                    help="only the gateway overhead (three rounds) and its nginx reference")
    ap.add_argument("--pool-loop", type=float, default=0,
                    help="only pool provisioning of one chain, for this many seconds")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp()
    cfg = {"chains": {str(c): {"poolSize": 2, "spawnAhead": 0} for c in CHAINS},
           "devnet": CHAINS + [AHEAD_CHAIN], "leaseTimeoutMs": 60000}
    cfg["chains"][str(AHEAD_CHAIN)] = {"poolSize": 2, "spawnAhead": 1}
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(cfg, f)
    srv = subprocess.Popen([os.path.join(a.build, "forkrun"), "serve", "--listen", "127.0.0.1:0",
                            "--config", os.path.join(tmp, "config.json"), "--no-access-log"],
                           stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "server.err"), "w"),
                           text=True)
    # A failed measurement must not leave the server (and its forks) running.
    atexit.register(lambda: srv.poll() is None and srv.kill())
    print("server stderr: %s" % os.path.join(tmp, "server.err"))
    base = token = None
    upstreams = {}
    for line in srv.stdout:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            base = m.group(1)
        m = re.search(r"^chain (\d+): forks (http://\S+),", line)
        if m:
            upstreams[int(m.group(1))] = m.group(2)
        m = re.search(r"dev token \(.*\): (\S+)", line)
        if m:
            token = m.group(1)
            break
    threading.Thread(target=lambda: [None for _ in srv.stdout], daemon=True).start()
    auth = {"Authorization": "Bearer " + token}
    api = Conn(base)
    wait_nodes = {"root": {"type": "manual", "children": ["w"]},
                  "w": {"type": "wait", "props": {"seconds": 300}}}

    # Let every pool fill before measuring.
    deadline = time.time() + 120
    while time.time() < deadline:
        live = int(subprocess.run(["pgrep", "-c", "-P", str(srv.pid), "anvil"],
                                  capture_output=True, text=True).stdout or 0)
        if live >= len(CHAINS) * 3 + 4:
            break
        time.sleep(0.2)

    print("date: %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    if a.pool_loop:
        print("server pid %d" % srv.pid)
        sys.stdout.flush()
        xs, end = [], time.time() + a.pool_loop
        while time.time() < end:
            xs.append(provision(api, auth, "pool", [AHEAD_CHAIN], wait_nodes)[0])
        print("pool provisioning, 1 chain: %d runs, p50 %.2f ms, p99 %.2f ms" % (
            len(xs), pct(xs, 50), pct(xs, 99)))
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=15)
        return
    print("%-6s %-6s %10s %10s %10s %10s %12s" % ("mode", "chains", "prov p50", "prov p99",
                                                  "cancel p50", "cancel p99", "raw anvil p50"))
    results = {}
    for n in (() if a.only_ahead or a.only_gateway else (1, 4, 8)):
        chains = CHAINS[:n]
        raw = [raw_spawn_to_ready([upstreams[c] for c in chains]) * 1000 for _ in range(5)]
        for mode in ("fork", "pool"):
            prov, canc = [], []
            for _ in range(a.rounds if mode == "fork" else a.pool_rounds):
                body = {"workflowId": "bench", "workflowVersion": 1, "isSimulation": True,
                        "simulationMode": mode, "chains": chains,
                        "workflowDefinition": {"nodes": wait_nodes}}
                t0 = time.perf_counter()
                st, r = api.req("POST", "/v1/runs", body, auth)
                assert st == 201, r
                rid = r["data"]["id"]
                st, r = api.req("GET", "/v1/runs/%s?waitUntil=running&timeoutMs=60000" % rid,
                                None, auth)
                t1 = time.perf_counter()
                assert r["data"]["executionState"]["error"] is None, r["data"]["executionState"]
                assert len(r["data"]["simulationForks"]) == n
                st, r = api.req("POST", "/v1/runs/%s/cancel" % rid, None, auth)
                t2 = time.perf_counter()
                assert st == 200 and all(f["ok"] for f in
                                         r["data"]["executionState"]["cancellation"]["forks"]), r
                prov.append((t1 - t0) * 1000)
                canc.append((t2 - t1) * 1000)
            results[(mode, n)] = (prov, canc, raw)
            print("%-6s %-6d %8.1fms %8.1fms %8.1fms %8.1fms %10.1fms" % (
                mode, n, pct(prov, 50), pct(prov, 99), pct(canc, 50), pct(canc, 99),
                statistics.median(raw)))
            sys.stdout.flush()

    if not a.only_gateway:
        ahead_rounds(a, api, auth, wait_nodes, upstreams[AHEAD_CHAIN])
    if a.only_ahead:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=15)
        return

    # Gateway overhead: the same call through a pooled fork's rpcUrl and directly to an anvil.
    body = {"workflowId": "bench", "workflowVersion": 1, "isSimulation": True,
            "simulationMode": "pool", "chains": [CHAINS[0]],
            "workflowDefinition": {"nodes": wait_nodes}}
    st, r = api.req("POST", "/v1/runs", body, auth)
    rid = r["data"]["id"]
    st, r = api.req("GET", "/v1/runs/%s?waitUntil=running&timeoutMs=60000" % rid, None, auth)
    url = urllib.parse.urlparse(r["data"]["simulationForks"][0]["rpcUrl"])
    gw = Conn("http://%s" % url.netloc)
    direct_proc, port = spawn_anvil(["--fork-url", upstreams[CHAINS[0]], "--no-storage-caching"])
    direct = Conn("http://127.0.0.1:%d" % port)

    def timed(conn, path, calls=a.calls):
        xs = []
        for _ in range(calls):
            t0 = time.perf_counter()
            st, _ = conn.req("POST", path, rpc_body("eth_blockNumber"))
            xs.append((time.perf_counter() - t0) * 1000)
            assert st == 200
        return xs

    proxy_proc, proxy_port = nginx_proxy(port)
    proxy = Conn("http://127.0.0.1:%d" % proxy_port)

    timed(gw, url.path)
    timed(direct, "/")
    timed(proxy, "/")
    for _ in range(3 if a.only_gateway else 1):
        gateway_round(a, timed, gw, url.path, direct, proxy)
    proxy_proc.send_signal(signal.SIGTERM)
    proxy_proc.wait()
    # A new connection: the API one was idle past the server's idle timeout meanwhile.
    Conn(base).req("POST", "/v1/runs/%s/cancel" % rid, None, auth)
    direct_proc.send_signal(signal.SIGTERM)
    direct_proc.wait()
    srv.send_signal(signal.SIGTERM)
    srv.wait(timeout=15)


def gateway_round(a, timed, gw, gw_path, direct, proxy):
    """One round: the same calls through the gateway, directly, and through nginx, interleaved
    in blocks so that the machine's load shifts hit all three alike."""
    g, d, n = [], [], []
    for _ in range(10):
        g += timed(gw, gw_path, a.calls // 10)
        d += timed(direct, "/", a.calls // 10)
        n += timed(proxy, "/", a.calls // 10)
    print("gateway eth_blockNumber p50 %.3f ms, direct p50 %.3f ms, overhead %.3f ms (%d calls)" % (
        pct(g, 50), pct(d, 50), pct(g, 50) - pct(d, 50), a.calls))
    print("reference: nginx proxy_pass to the same direct anvil p50 %.3f ms, overhead %.3f ms; "
          "forkrun's overhead is %.2fx nginx's" % (
              pct(n, 50), pct(n, 50) - pct(d, 50),
              (pct(g, 50) - pct(d, 50)) / max(pct(n, 50) - pct(d, 50), 1e-6)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
