#!/usr/bin/env python3
"""Soak test of forkrun (issue #5): mixed load at N kept-alive connections for M minutes.

Started by tools/soak.sh, which builds forkrun and writes the tokens and config files. This
program starts `forkrun serve`, waits until its warm pools are up, then holds `--connections`
kept-alive HTTP/1.1 connections (asyncio, raw sockets), each looping over a weighted mix:

  create_root   POST /v1/runs, a live run of `root` only (ends at once)
  create_wait   POST /v1/runs, a live run root -> wait 1-5 s
  get           GET  /v1/runs/{id} of a recent run
  list          GET  /v1/runs?limit=50
  longpoll      GET  /v1/runs/{id}?waitUntil=terminal&timeoutMs=200..3000 of a waiting run
  cancel        POST /v1/runs/{id}/cancel of a waiting run (200, or 409 when it ended first)
  sim fork/pool a simulation (chains [1] or [1, 8453]) in `fork` mode (at most
                --fork-concurrency at once: each fork is a real anvil) or `pool` mode (at most
                --pool-concurrency at once, within the warm pools). Half run to completion
                (root -> rpc eth_blockNumber on chain 1 -> wait 0.5 s, long-polled to the end);
                half hold a 30 s wait, get one eth_blockNumber through the fork's rpcUrl, are
                cancelled (200), and then see the rpcUrl refuse (410).

The weights are create_root 12, create_wait 12, get 20, list 8, longpoll 10, cancel 10,
sim_fork 4, sim_pool 8 (a simulation whose slots are all taken does a get instead). `--mix
KIND=W,...` replaces them, for diagnosis: the server keeps every run in memory, so RSS grows
with the runs created; a mix without creates (`--mix get=20,list=8,longpoll=10`) shows whether
it also grows with requests.

Every answer is counted by kind and status class; a 5xx, or a connection refused, reset, closed
mid-answer or timed out, is a failure. The server's VmRSS is sampled every --sample-s seconds.
At the end the load stops, every live run is cancelled or awaited, the anvil processes that
descend from the server are counted against the expected ones (one upstream per devnet chain
plus the pools' configured sizes), the server gets SIGTERM and must exit within 10 s, and no
anvil it spawned may remain (they are found by a tag in their inherited environment).

Criteria (exit 1 when one fails):
  - zero 5xx answers;
  - zero failed connections;
  - RSS flat after warm-up: warm-up lasts the first 10% of the run, or until the server holds
    --retain-runs runs (its memory grows by design until then), whichever is later; "warm" is
    the mean RSS over the next 20% of the run, "end" the mean over the last 20% (80%-100%);
    end <= warm * 1.10 (a run whose warm-up ends after 60% of it cannot tell, and fails);
  - every live run drained (the server reports no active run after the cancels);
  - anvil descendants of the server after the drain <= devnet chains + pool sizes;
  - SIGTERM: the server exits within 10 s with status 0;
  - no anvil the server spawned is left after it exits.
"""
import argparse
import array
import asyncio
import bisect
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.parse

CLASSES = ("2xx", "3xx", "4xx", "5xx")


def log(msg):
    print("[soak] " + msg, flush=True)


# ---------------------------------------------------------------- process inspection (/proc)


def read_status(pid):
    """The fields of /proc/PID/status as a dict, or None when the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            out = {}
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
            return out
    except (FileNotFoundError, ProcessLookupError):
        return None


def rss_kib(pid):
    st = read_status(pid)
    if not st or "VmRSS" not in st:
        return None
    return int(st["VmRSS"].split()[0])


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def all_procs():
    """{pid: (ppid, comm)} of every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        try:
            with open("/proc/%d/stat" % pid) as f:
                s = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: it ends at the last ')'.
        lp, rp = s.index("("), s.rindex(")")
        comm = s[lp + 1:rp]
        ppid = int(s[rp + 2:].split()[1])
        out[pid] = (ppid, comm)
    return out


def anvil_descendants(root_pid):
    """Pids of anvil processes below root_pid (any depth)."""
    procs = all_procs()
    children = collections.defaultdict(list)
    for pid, (ppid, _) in procs.items():
        children[ppid].append(pid)
    found, stack = [], [root_pid]
    while stack:
        p = stack.pop()
        for c in children.get(p, ()):
            if procs[c][1] == "anvil":
                found.append(c)
            stack.append(c)
    return sorted(found)


def tagged_processes(tag, exclude):
    """Pids (other than `exclude`) whose environment holds SOAK_RUN_TAG=tag."""
    needle = ("SOAK_RUN_TAG=" + tag).encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in exclude:
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            out.append(int(d))
    return sorted(out)


# ---------------------------------------------------------------- statistics


class Kind:
    __slots__ = ("n", "classes", "fail", "unexpected", "lat")

    def __init__(self):
        self.n = 0
        self.classes = dict.fromkeys(CLASSES, 0)
        self.fail = 0
        self.unexpected = 0
        self.lat = array.array("d")


class Stats:
    def __init__(self):
        self.kinds = collections.OrderedDict()
        self.fail_samples = []  # (kind, what)
        self.five_xx_samples = []  # (kind, status, body)
        self.unexpected_samples = []  # (kind, status, body)
        self.connects = 0
        self.runs_created = 0
        self.sim = collections.Counter()  # (mode, variant, final status) -> n
        self.sim_fail_samples = []

    def kind(self, name):
        k = self.kinds.get(name)
        if k is None:
            k = self.kinds[name] = Kind()
        return k

    def answer(self, name, status, secs, expected, body):
        k = self.kind(name)
        k.n += 1
        k.lat.append(secs)
        cls = "%dxx" % (status // 100)
        k.classes[cls] = k.classes.get(cls, 0) + 1
        if status >= 500:
            if len(self.five_xx_samples) < 20:
                self.five_xx_samples.append((name, status, body[:400]))
        elif status not in expected:
            k.unexpected += 1
            if len(self.unexpected_samples) < 20:
                self.unexpected_samples.append((name, status, body[:300]))

    def failure(self, name, what):
        k = self.kind(name)
        k.n += 1
        k.fail += 1
        if len(self.fail_samples) < 20:
            self.fail_samples.append((name, what))

    def total(self, field):
        if field == "fail":
            return sum(k.fail for k in self.kinds.values())
        if field == "n":
            return sum(k.n for k in self.kinds.values())
        if field == "unexpected":
            return sum(k.unexpected for k in self.kinds.values())
        return sum(k.classes.get(field, 0) for k in self.kinds.values())


def pct(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[max(0, min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1)))))]


# ---------------------------------------------------------------- HTTP/1.1 client


class Conn:
    """One kept-alive HTTP/1.1 connection; reopened after a close or a failure."""

    def __init__(self, host, port, token, stats):
        self.host, self.port, self.token, self.stats = host, port, token, stats
        self.r = self.w = None

    def close(self):
        if self.w is not None:
            try:
                self.w.close()
            except Exception:
                pass
        self.r = self.w = None

    async def _exchange(self, method, path, body):
        if self.w is None:
            self.r, self.w = await asyncio.open_connection(self.host, self.port)
            self.stats.connects += 1
        head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n" % (
            method, path, self.host, self.port, self.token)
        if body is not None:
            head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self.w.write(head.encode() + b"\r\n" + (body or b""))
        await self.w.drain()
        raw = await self.r.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, close, chunked = None, False, False
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "connection" and "close" in v.lower():
                close = True
            elif k == "transfer-encoding" and "chunked" in v.lower():
                chunked = True
        if chunked:
            data = b""
            while True:
                size = int((await self.r.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.r.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        elif length is not None:
            data = await self.r.readexactly(length)
        else:
            data = await self.r.read()
            close = True
        if close:
            self.close()
        return status, data

    async def request(self, kind, method, path, body=None, timeout=20.0, expected=(200,)):
        """(status, body bytes), or (None, b"") after a failure (counted)."""
        t0 = time.perf_counter()
        try:
            status, data = await asyncio.wait_for(self._exchange(method, path, body), timeout)
        except asyncio.TimeoutError:
            self.close()
            self.stats.failure(kind, "timeout after %.0f s: %s %s" % (timeout, method, path))
            return None, b""
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                IndexError) as e:
            self.close()
            self.stats.failure(kind, "%s: %s %s" % (type(e).__name__ + " " + str(e), method, path))
            return None, b""
        self.stats.answer(kind, status, time.perf_counter() - t0, expected, data)
        return status, data


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def data_of(body):
    try:
        return json.loads(body)["data"]
    except (ValueError, KeyError, TypeError):
        return None


TERMINAL = ("success", "failure", "cancelled")

ROOT_ONLY = dumps({"workflowId": "wf_soak_root", "workflowVersion": 1,
                   "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}})


def wait_body(seconds):
    return dumps({"workflowId": "wf_soak_wait", "workflowVersion": 1,
                  "workflowDefinition": {"nodes": {
                      "root": {"type": "manual", "children": ["pause"]},
                      "pause": {"type": "wait", "props": {"seconds": seconds}}}}})


def sim_body(mode, chains, hold):
    return dumps({"workflowId": "wf_soak_sim", "workflowVersion": 1, "isSimulation": True,
                  "simulationMode": mode, "chains": chains,
                  "workflowDefinition": {"nodes": {
                      "root": {"type": "manual", "children": ["block"]},
                      "block": {"type": "rpc", "children": ["hold"],
                                "props": {"chainId": 1, "method": "eth_blockNumber",
                                          "params": []}},
                      "hold": {"type": "wait", "props": {"seconds": hold}}}}})


RPC_BLOCK_NUMBER = dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})


# ---------------------------------------------------------------- the load


class Load:
    WEIGHTS = [("create_root", 12), ("create_wait", 12), ("get", 20), ("list", 8),
               ("longpoll", 10), ("cancel", 10), ("sim_fork", 4), ("sim_pool", 8)]

    def __init__(self, args, host, port, token, stats):
        self.args, self.host, self.port, self.token, self.stats = args, host, port, token, stats
        # Ids to get, long-poll and cancel: recent enough that the server still keeps them (it
        # drops the oldest finished runs past --retain-runs).
        keep = max(100, min(2000, args.retain_runs // 5))
        self.recent = collections.deque(maxlen=keep)  # ids of runs created
        self.waiting = collections.deque(maxlen=keep)  # ids of live runs with a wait
        self.fork_slots = args.fork_concurrency
        self.pool_slots = args.pool_concurrency
        self.stopping = False
        weights = self.WEIGHTS
        if args.mix:
            known = dict(self.WEIGHTS)
            weights = [(k, int(w)) for k, w in (e.split("=") for e in args.mix.split(","))]
            for k, _ in weights:
                if k not in known:
                    raise SystemExit("--mix: unknown kind %s (kinds: %s)" % (k, ", ".join(known)))
        names, cum, total = [], [], 0
        for name, w in weights:
            total += w
            names.append(name)
            cum.append(total)
        self.names, self.cum, self.total_weight = names, cum, total

    def pick(self):
        return self.names[bisect.bisect_right(self.cum, random.random() * self.total_weight)]

    async def worker(self, deadline):
        c = Conn(self.host, self.port, self.token, self.stats)
        try:
            while time.monotonic() < deadline and not self.stopping:
                await self.one(c, self.pick())
        finally:
            c.close()

    async def create(self, c, kind, body):
        status, data = await c.request(kind, "POST", "/v1/runs", body, expected=(201,))
        if status == 201:
            self.stats.runs_created += 1
            run = data_of(data)
            if run:
                self.recent.append(run["id"])
                return run
        return None

    async def one(self, c, action):
        if action == "create_root":
            await self.create(c, "create_root", ROOT_ONLY)
        elif action == "create_wait":
            run = await self.create(c, "create_wait", wait_body(random.choice((1, 2, 3, 4, 5))))
            if run:
                self.waiting.append(run["id"])
        elif action == "get":
            if not self.recent:
                return await self.one(c, "create_root")
            run_id = random.choice(self.recent)
            await c.request("get", "GET", "/v1/runs/" + run_id)
        elif action == "list":
            await c.request("list", "GET", "/v1/runs?limit=50")
        elif action == "longpoll":
            if not self.waiting:
                return await self.one(c, "create_wait")
            run_id = random.choice(self.waiting)
            ms = random.randint(200, 3000)
            await c.request("longpoll", "GET",
                            "/v1/runs/%s?waitUntil=terminal&timeoutMs=%d" % (run_id, ms),
                            timeout=ms / 1000.0 + 20)
        elif action == "cancel":
            if not self.waiting:
                return await self.one(c, "create_wait")
            run_id = self.waiting.popleft() if random.random() < 0.5 else self.waiting.pop()
            await c.request("cancel", "POST", "/v1/runs/%s/cancel" % run_id,
                            dumps({"reason": "soak"}), expected=(200, 409))
        elif action == "sim_fork":
            if self.fork_slots <= 0:
                return await self.one(c, "get")
            self.fork_slots -= 1
            try:
                await self.simulation(c, "fork")
            finally:
                self.fork_slots += 1
        elif action == "sim_pool":
            if self.pool_slots <= 0:
                return await self.one(c, "get")
            self.pool_slots -= 1
            try:
                await self.simulation(c, "pool")
            finally:
                self.pool_slots += 1

    async def simulation(self, c, mode):
        chains = [1] if random.random() < 0.5 else [1, 8453]
        to_end = random.random() < 0.5
        variant = "complete" if to_end else "cancel"
        hold = 0.5 if to_end else 30
        run = await self.create(c, "sim_create_" + mode, sim_body(mode, chains, hold))
        if not run:
            return
        run_id = run["id"]
        if to_end:
            run = None
            for _ in range(3):
                status, body = await c.request(
                    "sim_poll", "GET", "/v1/runs/%s?waitUntil=terminal&timeoutMs=30000" % run_id,
                    timeout=60)
                run = data_of(body) if status == 200 else None
                if run is None or run["status"] in TERMINAL:
                    break
            self.sim_outcome(mode, variant, run)
            return
        status, body = await c.request(
            "sim_poll", "GET", "/v1/runs/%s?waitUntil=running&timeoutMs=30000" % run_id, timeout=60)
        run = data_of(body) if status == 200 else None
        rpc_path = None
        if run and run["status"] not in TERMINAL and run["simulationForks"]:
            forks = run["executionState"].get("forks", {})
            if forks and all(f.get("state") == "ready" for f in forks.values()):
                rpc_path = urllib.parse.urlparse(run["simulationForks"][0]["rpcUrl"]).path
        if rpc_path and not self.stopping:
            await c.request("gateway", "POST", rpc_path, RPC_BLOCK_NUMBER)
        status, body = await c.request("sim_cancel", "POST", "/v1/runs/%s/cancel" % run_id,
                                       dumps({"reason": "soak"}), timeout=30)
        self.sim_outcome(mode, variant, data_of(body) if status in (200, 409) else None)
        if rpc_path and status == 200:
            await c.request("gateway_after_cancel", "POST", rpc_path, RPC_BLOCK_NUMBER,
                            expected=(410,))

    def sim_outcome(self, mode, variant, run):
        final = run["status"] if run else "unknown"
        self.stats.sim[(mode, variant, final)] += 1
        expected = "success" if variant == "complete" else "cancelled"
        if final != expected and len(self.stats.sim_fail_samples) < 10:
            err = run["executionState"].get("error") if run else None
            self.stats.sim_fail_samples.append((mode, variant, final, err))


# ---------------------------------------------------------------- the run


async def sampler(pid, t0, stats, samples, anvil_max, stop, every):
    while not stop.is_set():
        r = rss_kib(pid)
        if r is not None:
            samples.append((time.monotonic() - t0, r, fd_count(pid), stats.runs_created))
        anvil_max[0] = max(anvil_max[0], len(anvil_descendants(pid)))
        try:
            await asyncio.wait_for(stop.wait(), every)
        except asyncio.TimeoutError:
            pass


async def progress(stats, samples, t0, stop, host, port, token):
    last_n, last_t = 0, time.monotonic()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 30)
            break
        except asyncio.TimeoutError:
            pass
        now = time.monotonic()
        n = stats.total("n")
        # A connection of its own per probe (idle for 30 s it would be closed by the server);
        # its answers are not part of the load figures.
        c = Conn(host, port, token, Stats())
        _, body = await c.request("healthz", "GET", "/healthz")
        c.close()
        active = (data_of(body) or {}).get("activeRuns", "?")
        rss = samples[-1][1] if samples else 0
        log("t=%4.0fs  %6.0f req/s  requests %d  5xx %d  failed %d  RSS %.1f MiB  activeRuns %s"
            % (now - t0, (n - last_n) / (now - last_t), n, stats.total("5xx"),
               stats.total("fail"), rss / 1024.0, active))
        last_n, last_t = n, now


async def drain(host, port, token, stats):
    """Cancels every live run of the organization; waits until the server reports none."""
    c = Conn(host, port, token, stats)
    cancelled = 0
    cursor = None
    ids = []
    while True:
        path = "/v1/runs?status=waiting,running&limit=200" + ("&cursor=" + cursor if cursor else "")
        status, body = await c.request("drain_list", "GET", path)
        page = data_of(body) if status == 200 else None
        if not page:
            break
        ids += [r["id"] for r in page["runs"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    for run_id in ids:
        status, _ = await c.request("drain_cancel", "POST", "/v1/runs/%s/cancel" % run_id,
                                    dumps({"reason": "soak drain"}), timeout=30,
                                    expected=(200, 409))
        cancelled += status == 200
    active = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body = await c.request("drain_health", "GET", "/healthz")
        active = (data_of(body) or {}).get("activeRuns") if status == 200 else None
        if active == 0:
            break
        await asyncio.sleep(0.5)
    c.close()
    return len(ids), cancelled, active


def wait_listening(proc, out_path, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("forkrun exited with %s before listening" % proc.returncode)
        with open(out_path) as f:
            for line in f:
                if " listening on http://" in line:
                    return line.split(" listening on ", 1)[1].strip()
        time.sleep(0.1)
    raise RuntimeError("forkrun did not print its address within %d s" % timeout)


async def main_async(args, server, base):
    u = urllib.parse.urlparse(base)
    host, port = u.hostname, u.port
    stats = Stats()
    expected_anvils = args.devnet_chains + args.pool_total

    # Warm pools first: the load starts once every expected anvil is up.
    deadline = time.monotonic() + 120
    while len(anvil_descendants(server.pid)) < expected_anvils and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    up = len(anvil_descendants(server.pid))
    log("%d anvil processes up (expected %d: %d devnet upstreams + pools of %d)"
        % (up, expected_anvils, args.devnet_chains, args.pool_total))

    rss_start = rss_kib(server.pid)
    fds_start = fd_count(server.pid)
    samples, anvil_max, stop = [], [0], asyncio.Event()
    duration = args.minutes * 60.0
    t0 = time.monotonic()
    deadline = t0 + duration
    load = Load(args, host, port, args.token, stats)
    sampler_task = asyncio.create_task(sampler(server.pid, t0, stats, samples, anvil_max, stop,
                                               args.sample_s))
    progress_task = asyncio.create_task(progress(stats, samples, t0, stop, host, port,
                                                 args.token))
    log("load: %d connections for %.1f minutes against %s" % (args.connections, args.minutes, base))
    workers = [asyncio.create_task(load.worker(deadline)) for _ in range(args.connections)]
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    load.stopping = True
    load_secs = time.monotonic() - t0
    done, pending = await asyncio.wait(workers, timeout=90)
    stuck_workers = len(pending)
    for w in pending:
        w.cancel()
    stop.set()
    await sampler_task
    await progress_task
    log("load stopped after %.1f s; %d requests; draining" % (load_secs, stats.total("n")))

    live_found, live_cancelled, active_after = await drain(host, port, args.token, stats)
    rss_drained = rss_kib(server.pid)
    fds_drained = fd_count(server.pid)

    # Anvils: pool replacements may still be starting or stopping; give them a few seconds.
    anvils = anvil_descendants(server.pid)
    settle = time.monotonic() + 15
    while len(anvils) > expected_anvils and time.monotonic() < settle:
        await asyncio.sleep(0.5)
        anvils = anvil_descendants(server.pid)
    tagged_before = tagged_processes(args.tag, {server.pid})

    # SIGTERM: exit within 10 s, and nothing of ours left behind.
    t_term = time.monotonic()
    server.send_signal(signal.SIGTERM)
    try:
        code = server.wait(timeout=10)
        exit_secs = time.monotonic() - t_term
    except subprocess.TimeoutExpired:
        code, exit_secs = None, None
    leftover = []
    if code is not None:
        gone_by = time.monotonic() + 3
        leftover = tagged_processes(args.tag, {server.pid})
        while leftover and time.monotonic() < gone_by:
            await asyncio.sleep(0.2)
            leftover = tagged_processes(args.tag, {server.pid})

    # ---- figures
    n = len(samples)
    filled = next((s[0] for s in samples if s[3] >= args.retain_runs), duration)
    warm_from = max(0.10 * duration, filled)
    warm_s = [s for s in samples if warm_from <= s[0] < min(warm_from + 0.20 * duration,
                                                            0.80 * duration)]
    end_s = [s for s in samples if s[0] >= 0.80 * duration]
    warm = [s[1] for s in warm_s]
    end = [s[1] for s in end_s]
    warm_mean = sum(warm) / len(warm) if warm else float("nan")
    end_mean = sum(end) / len(end) if end else float("nan")
    growth = (end_mean / warm_mean - 1.0) if warm and end else float("nan")
    runs_created = stats.runs_created
    # Runs created between the two windows' centres: the store keeps every run, so RSS grows
    # with them; this separates that from growth with time or requests.
    runs_between = (sum(s[3] for s in end_s) / len(end_s) - sum(s[3] for s in warm_s)
                    / len(warm_s)) if warm_s and end_s else 0

    print()
    print("==== forkrun soak: %.1f min, %d connections, %s ====" % (
        load_secs / 60.0, args.connections, time.strftime("%Y-%m-%d %H:%M:%S %Z")))
    print("%-22s %9s %8s %8s %8s %8s %7s %6s %9s %9s" % (
        "kind", "requests", "2xx", "3xx", "4xx", "5xx", "failed", "unexp", "p50 ms", "p99 ms"))
    for name, k in stats.kinds.items():
        print("%-22s %9d %8d %8d %8d %8d %7d %6d %9.1f %9.1f" % (
            name, k.n, k.classes["2xx"], k.classes["3xx"], k.classes["4xx"], k.classes["5xx"],
            k.fail, k.unexpected, pct(k.lat, 50) * 1000, pct(k.lat, 99) * 1000))
    total_n = stats.total("n")
    print("%-22s %9d %8d %8d %8d %8d %7d %6d" % (
        "total", total_n, stats.total("2xx"), stats.total("3xx"), stats.total("4xx"),
        stats.total("5xx"), stats.total("fail"), stats.total("unexpected")))
    print("throughput: %.0f requests/s over the load; %d runs created; %d TCP connects"
          % (sum(stats.kinds[k].n for k in stats.kinds if not k.startswith("drain"))
             / load_secs, runs_created, stats.connects))
    print("simulations (mode, variant, final status):")
    for (mode, variant, final), cnt in sorted(stats.sim.items()):
        print("  %-5s %-9s %-10s %d" % (mode, variant, final, cnt))
    for s in stats.sim_fail_samples:
        print("  unexpected simulation outcome: %s" % (s,))
    for s in stats.five_xx_samples:
        print("  5xx: %s" % (s,))
    for s in stats.fail_samples:
        print("  failed: %s" % (s,))
    for s in stats.unexpected_samples:
        print("  unexpected answer: %s" % (s,))
    print("store full (%d runs) after %.0f s; warm window from %.0f s" % (
        args.retain_runs, filled, warm_from))
    print("RSS (KiB): start %d, warm mean %.0f (%d samples), end mean %.0f "
          "(%d samples, last 20%%), max %d, after drain %s; growth %+.1f%%"
          % (rss_start or 0, warm_mean, len(warm), end_mean, len(end),
             max((s[1] for s in samples), default=0), rss_drained, growth * 100))
    if runs_between > 0:
        print("RSS growth warm->end per run created in between: %.0f bytes (%d runs; the store "
              "keeps the newest --retain-runs)" % ((end_mean - warm_mean) * 1024.0 / runs_between, runs_between))
    print("open fds: start %s, end of load %s, after drain %s" % (
        fds_start, samples[-1][2] if samples else None, fds_drained))
    print("drain: %d live runs found, %d cancelled (200), activeRuns after: %s; "
          "workers stuck past the load: %d" % (live_found, live_cancelled, active_after,
                                               stuck_workers))
    print("anvils: expected %d, found %d after drain (max %d during the load); pids %s"
          % (expected_anvils, len(anvils), anvil_max[0], anvils))
    print("SIGTERM: %s; tagged processes before %d, left after exit: %s" % (
        "exit %s after %.2f s" % (code, exit_secs) if code is not None else "no exit within 10 s",
        len(tagged_before), leftover))

    checks = [
        ("zero 5xx answers", stats.total("5xx") == 0, "%d" % stats.total("5xx")),
        ("zero failed connections", stats.total("fail") == 0, "%d" % stats.total("fail")),
        ("RSS flat after warm-up (<= +10%)", bool(warm and end) and growth <= 0.10,
         "%+.1f%%" % (growth * 100)),
        ("every live run drained", active_after == 0 and stuck_workers == 0,
         "activeRuns %s, stuck workers %d" % (active_after, stuck_workers)),
        ("no anvil beyond the pools' + devnets", len(anvils) <= expected_anvils,
         "%d found, %d expected" % (len(anvils), expected_anvils)),
        ("SIGTERM exit within 10 s, status 0", code == 0,
         "%s" % ("exit %s in %.2f s" % (code, exit_secs) if code is not None else "hung")),
        ("no spawned anvil left after exit", code is not None and not leftover,
         "%d left" % len(leftover)),
    ]
    print()
    ok = True
    for name, passed, figure in checks:
        ok &= passed
        print("%-4s %-40s %s" % ("PASS" if passed else "FAIL", name, figure))
    print("RESULT: %s" % ("PASS" if ok else "FAIL"))
    if n and args.rss_csv:
        with open(args.rss_csv, "w") as f:
            f.write("seconds,rss_kib,fds,runs_created\n")
            for t, r, fds, runs in samples:
                f.write("%.1f,%d,%s,%d\n" % (t, r, fds, runs))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--forkrun", required=True, help="the forkrun binary to serve")
    ap.add_argument("--work", required=True, help="directory with tokens.json, config.json; logs")
    ap.add_argument("--token", required=True)
    ap.add_argument("--tag", required=True, help="marks the server's processes (environment)")
    ap.add_argument("--anvil", default=None)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=128)
    ap.add_argument("--devnet", default="1,8453")
    ap.add_argument("--pool-total", type=int, required=True, help="sum of the pools' sizes")
    ap.add_argument("--fork-concurrency", type=int, default=3)
    ap.add_argument("--pool-concurrency", type=int, default=3)
    ap.add_argument("--sample-s", type=float, default=2.0)
    ap.add_argument("--mix", default=None,
                    help="override the mix's weights, e.g. get=20,list=8 (for diagnosis)")
    ap.add_argument("--rss-csv", default=None)
    ap.add_argument("--retain-runs", type=int, default=5000,
                    help="the server's retainRuns: RSS is judged once it holds that many runs")
    args = ap.parse_args()
    args.devnet_chains = len(args.devnet.split(","))

    cmd = [args.forkrun, "serve", "--listen", "127.0.0.1:0",
           "--tokens", os.path.join(args.work, "tokens.json"), "--no-access-log",
           "--devnet", args.devnet, "--config", os.path.join(args.work, "config.json")]
    if args.anvil:
        cmd += ["--anvil", args.anvil]
    env = dict(os.environ, SOAK_RUN_TAG=args.tag)
    out_path = os.path.join(args.work, "server.out")
    err_path = os.path.join(args.work, "server.err")
    log("starting: " + " ".join(cmd))
    with open(out_path, "w") as out, open(err_path, "w") as err:
        server = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
    log("server pid %d; stdout %s, stderr %s" % (server.pid, out_path, err_path))
    code = 1
    try:
        base = wait_listening(server, out_path, 60)
        code = asyncio.run(main_async(args, server, base))
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        left = tagged_processes(args.tag, {os.getpid()})
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if left:
            log("killed leftover processes of this soak: %s" % left)
    return code


if __name__ == "__main__":
    sys.exit(main())
