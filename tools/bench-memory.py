#!/usr/bin/env python3
"""Memory of forkrun: idle RSS, and RSS per stored run against the run's JSON size.

Starts `forkrun serve` (a tokens file, a free port), then
  (a) idle: VmRSS from /proc/PID/status right after it listens (goal <= 20 MB, 10^6 bytes);
  (b) creates --runs live runs of a 10-node workflow (root -> 9 `assert` nodes in a chain, each
      finishing at once) with wrk and tools/bench/post.lua, waits until none is waiting or
      running, and reports the RSS growth per run against the run's JSON size (goal <= 2x).
      The JSON size per run is the byte length of the run object in `GET /v1/runs?view=full`
      pages (every run, compact, as the server sends it), checked against a sample of
      `GET /v1/runs/{id}` answers. Reading every run fills the server's per-run cache of its
      serialized JSON, so the RSS after that read is reported too (informational).
Exits 1 when a goal is missed, 2 on a setup error.

Usage: tools/bench-memory.py [--build DIR] [--runs N] [--connections N]
  FORKRUN_BIN=PATH uses that binary instead of DIR/forkrun. FORKRUN_ENV="NAME=VALUE ..." adds
  environment for the forkrun process only (e.g. LD_PRELOAD=.../libjemalloc.so.2 to try another
  allocator). wrk is installed if missing (apt).
Run it under `nice -n 10` on a shared machine.
"""
import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDLE_GOAL_MB = 20.0
RATIO_GOAL = 2.0


def status_bytes(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no %s for pid %d" % (key, pid))


def rss_bytes(pid):
    return status_bytes(pid, "VmRSS")


def mb(b):
    return b / 1e6


class Api:
    def __init__(self, host, port, token):
        self.c = http.client.HTTPConnection(host, port, timeout=120)
        self.auth = {"Authorization": "Bearer " + token}

    def req(self, method, path, body=None):
        h = dict(self.auth)
        if body is not None:
            h["Content-Type"] = "application/json"
        self.c.request(method, path, body=body, headers=h)
        r = self.c.getresponse()
        return r.status, r.read()


def workflow_body():
    nodes = {"root": {"type": "manual", "children": ["a1"]}}
    for i in range(1, 10):
        n = {"type": "assert", "props": {"value": "1", "equals": "1"}}
        if i < 9:
            n["children"] = ["a%d" % (i + 1)]
        nodes["a%d" % i] = n
    return json.dumps({"workflowId": "wf_memory", "workflowVersion": 1, "isSimulation": False,
                       "workflowDefinition": {"nodes": nodes}}, separators=(",", ":"))


def ensure_wrk():
    if shutil.which("wrk"):
        return
    subprocess.run(["bash", "-c", 'source "$1/tools/setup.sh" && ensure_apt_packages wrk',
                    "bash", ROOT], check=True, stdout=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=100000, help="runs to create (default 100000)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    a = ap.parse_args()
    binary = os.environ.get("FORKRUN_BIN") or os.path.join(a.build, "forkrun")
    if not os.access(binary, os.X_OK):
        print("no forkrun binary at %s (build it, or set FORKRUN_BIN)" % binary, file=sys.stderr)
        return 2
    ensure_wrk()

    tmp = tempfile.mkdtemp(prefix="forkrun-bench-memory.")
    srv = wrk = None
    try:
        shutil.copy(binary, os.path.join(tmp, "forkrun"))  # others may rebuild build/
        token = "bench_" + secrets.token_hex(16)
        with open(os.path.join(tmp, "tokens.json"), "w") as f:
            json.dump([{"token": token, "organizationId": "org_bench", "subject": "bench",
                        "scopes": ["runs:read", "runs:write"]}], f)
        body_file = os.path.join(tmp, "body.json")
        with open(body_file, "w") as f:
            f.write(workflow_body())

        srv_env = dict(os.environ)
        for kv in os.environ.get("FORKRUN_ENV", "").split():
            k, _, v = kv.partition("=")
            srv_env[k] = v
        out_path = os.path.join(tmp, "forkrun.out")
        with open(out_path, "w") as out, open(os.path.join(tmp, "forkrun.log"), "w") as log:
            srv = subprocess.Popen([os.path.join(tmp, "forkrun"), "serve", "--listen",
                                    "127.0.0.1:0", "--tokens", os.path.join(tmp, "tokens.json"),
                                    "--no-access-log"], stdout=out, stderr=log, env=srv_env)
        base = None
        deadline = time.time() + 30
        while base is None and srv.poll() is None and time.time() < deadline:
            with open(out_path) as f:
                m = re.search(r"listening on http://([0-9.]+):(\d+)", f.read())
            if m:
                base = (m.group(1), int(m.group(2)))
            else:
                time.sleep(0.02)
        if not base:
            print("forkrun did not start", file=sys.stderr)
            return 2
        idle = rss_bytes(srv.pid)

        print("date: %s" % time.strftime("%Y-%m-%d %H:%M:%S %Z"))
        print("binary: %s%s" % (binary, " with " + os.environ["FORKRUN_ENV"]
                                  if os.environ.get("FORKRUN_ENV") else ""))
        print("idle RSS right after start: %.1f MB (goal <= %.0f MB): %s" % (
            mb(idle), IDLE_GOAL_MB, "pass" if mb(idle) <= IDLE_GOAL_MB else "FAIL"))
        sys.stdout.flush()

        # (b) create the runs with wrk, ended by SIGINT once it has seen --runs answers.
        done_file = os.path.join(tmp, "wrk.done")
        env = dict(os.environ, BENCH_BODY_FILE=body_file, BENCH_TOKEN=token,
                   BENCH_LIMIT=str(a.runs), BENCH_DONE_FILE=done_file)
        t0 = time.time()
        wrk = subprocess.Popen(["wrk", "-t1", "-c%d" % a.connections, "-d3600s",
                                "-s", os.path.join(ROOT, "tools/bench/post.lua"),
                                "http://%s:%d/v1/runs" % base],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        while not os.path.exists(done_file) and wrk.poll() is None:
            time.sleep(0.05)
        wrk.send_signal(signal.SIGINT)
        wrk_out = wrk.communicate(timeout=60)[0]
        wrk = None
        created_s = time.time() - t0
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk_out)
        if non2xx:
            print("wrk saw %s non-2xx answers:\n%s" % (non2xx.group(1), wrk_out), file=sys.stderr)
            return 2

        api = Api(base[0], base[1], token)
        deadline = time.time() + 600
        while True:
            st, b = api.req("GET", "/v1/runs?status=waiting,running&limit=1")
            if st != 200:
                print("list answered %d: %s" % (st, b[:300]), file=sys.stderr)
                return 2
            if not json.loads(b)["data"]["runs"]:
                break
            if time.time() > deadline:
                print("runs still not terminal after 600 s", file=sys.stderr)
                return 2
            time.sleep(0.2)
        terminal_s = time.time() - t0
        after = rss_bytes(srv.pid)
        peak = status_bytes(srv.pid, "VmHWM")

        # Every run once, in full: count, statuses, and the JSON bytes of each run object.
        runs = json_bytes = 0
        statuses = {}
        sample_ids = []
        cursor = None
        while True:
            path = "/v1/runs?view=full&limit=200" + ("&cursor=" + cursor if cursor else "")
            st, b = api.req("GET", path)
            if st != 200:
                print("%s answered %d: %s" % (path, st, b[:300]), file=sys.stderr)
                return 2
            data = json.loads(b)["data"]
            for r in data["runs"]:
                runs += 1
                json_bytes += len(json.dumps(r, separators=(",", ":"), ensure_ascii=False)
                                  .encode())
                statuses[r["status"]] = statuses.get(r["status"], 0) + 1
                if len(sample_ids) < 100 and runs % 997 == 1:
                    sample_ids.append(r["id"])
            cursor = data["nextCursor"]
            if not cursor:
                break
        after_read = rss_bytes(srv.pid)
        per_run_json = json_bytes / runs

        # The sample: the run object inside a GET answer has the same bytes as in the pages.
        get_bytes = data_bytes = 0
        for rid in sample_ids:
            st, b = api.req("GET", "/v1/runs/" + rid)
            if st != 200:
                print("GET /v1/runs/%s answered %d" % (rid, st), file=sys.stderr)
                return 2
            get_bytes += len(b)
            data_bytes += len(json.dumps(json.loads(b)["data"], separators=(",", ":"),
                                         ensure_ascii=False).encode())
        check = re.search(rb'"data":(.*),"message":', b).group(1)
        if len(check) != len(json.dumps(json.loads(b)["data"], separators=(",", ":"),
                                        ensure_ascii=False).encode()):
            print("warning: re-serialized run JSON differs in size from the server's",
                  file=sys.stderr)

        growth = (after - idle) / runs
        ratio = growth / per_run_json
        growth_read = (after_read - idle) / runs
        print("runs: %d of a 10-node workflow (root + 9 assert nodes in a chain), statuses %s" % (
            runs, json.dumps(statuses, sort_keys=True)))
        print("created in %.1f s (%.0f runs/s), all terminal after %.1f s (wrk -t1 -c%d)" % (
            created_s, runs / created_s, terminal_s, a.connections))
        print("RSS after all terminal: %.1f MB (peak %.1f MB), growth %.0f bytes per run" % (
            mb(after), mb(peak), growth))
        print("JSON per run: %.0f bytes (run object, view=full pages); GET /v1/runs/{id} answer "
              "%.0f bytes, its run object %.0f bytes (sample of %d)" % (
                  per_run_json, get_bytes / len(sample_ids), data_bytes / len(sample_ids),
                  len(sample_ids)))
        print("RSS per run / JSON per run: %.2f (goal <= %.1f): %s" % (
            ratio, RATIO_GOAL, "pass" if ratio <= RATIO_GOAL else "FAIL"))
        print("after reading every run once (view=full; the server caches each run's JSON): "
              "RSS %.1f MB, growth %.0f bytes per run, %.2fx the JSON (informational)" % (
                  mb(after_read), growth_read, growth_read / per_run_json))
        ok = mb(idle) <= IDLE_GOAL_MB and ratio <= RATIO_GOAL
        return 0 if ok else 1
    finally:
        if wrk and wrk.poll() is None:
            wrk.kill()
            wrk.wait()
        if srv and srv.poll() is None:
            srv.terminate()
            try:
                srv.wait(timeout=15)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
