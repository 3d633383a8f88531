#!/usr/bin/env python3
"""Event streams under load: latency, the memory of idle subscribers, and what the org stream costs.

Starts `forkrun serve` with a devnet upstream and a warm pool, then measures:

1. Event latency, 1 and N subscribers of one run (and, as the reference, the same fan-out by a
   minimal writer: one Python thread sending a ready frame to N loopback sockets): a pool-mode simulation waits; each sample is
   one `eth_blockNumber` through its rpcUrl, which the gateway charges before it forwards, so the
   run's `cu` event is published at once (samples are 150 ms apart, past the 100 ms `cu` pacing).
   Latency is from just before the client sends that call until the subscriber's socket reports
   the event readable (the time epoll returned it; every socket is read by one epoll loop). It is
   an upper bound: it includes the request's own write and parse.
2. Idle subscribers: the server's RSS (/proc/PID/status VmRSS) before and after N subscribers of
   the organization stream have connected and been answered, divided by N.
3. The org stream's cost to creates: `POST /v1/runs` (root only) with wrk, in alternating rounds
   without and with M subscribers of `GET /v1/events` that read everything they are sent; and,
   as the reference, with M curl readers of the same bytes at the same rate served by nginx (a
   sparse file, sendfile), which is what moving that much data through loopback to readers on
   the same cores costs by itself.

Usage: tools/bench-events.py [--build DIR] [--samples N] [--subscribers N] [--org-subscribers M]
                             [--rounds R] [--duration SECONDS] [--parts memory,latency,org]
Run it under `nice -n 10` on a shared machine. Needs wrk (tools/bench-http.sh installs it).
"""
import argparse
import http.client
import json
import os
import re
import resource
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAIN = 1001


def pct(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Conn:
    """A kept-alive HTTP/1.1 connection."""

    def __init__(self, host, port):
        self.c = http.client.HTTPConnection(host, port, timeout=60)

    def req(self, method, path, body=None, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        self.c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = self.c.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else None


class Streams:
    """Many SSE subscribers read by one epoll loop on a thread of its own, doing as little as it
    can per readable socket (one recv, kept with the time epoll reported it); parsed later."""

    def __init__(self, host, port, path, token, n):
        self.ep = select.epoll()
        self.socks = {}
        self.chunks = []  # per subscriber: [(readable_at, bytes)]
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
               "Accept: text/event-stream\r\n\r\n" % (path, host, port, token)).encode()
        for i in range(n):
            s = socket.create_connection((host, port))
            s.sendall(req)
            s.setblocking(False)
            self.chunks.append([])
            self.socks[s.fileno()] = (s, self.chunks[i])
            self.ep.register(s.fileno(), select.EPOLLIN)
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        socks, clock, poll = self.socks, time.perf_counter, self.ep.poll
        while not self.stop:
            ready = poll(0.2)
            at = clock()
            for fd, _ in ready:
                s, out = socks[fd]
                try:
                    chunk = s.recv(1 << 16)
                except BlockingIOError:
                    continue
                if chunk:
                    out.append((at, chunk))
                else:
                    self.ep.unregister(fd)

    def events(self, i):
        """Subscriber i's events: [(type, readable_at)], after its answer's header."""
        buf, out, answered = b"", [], False
        for at, chunk in self.chunks[i]:
            buf += chunk
            if not answered:
                head, sep, rest = buf.partition(b"\r\n\r\n")
                if not sep:
                    continue
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.decode(errors="replace"))
                answered, buf = True, rest
            # Chunked transfer: the chunk-size lines are skipped with the other lines.
            *done, buf = buf.split(b"\n\n")
            for block in done:
                for line in block.split(b"\n"):
                    if line.startswith(b"event: "):
                        out.append((line[7:].rstrip(b"\r").decode(), at))
        return out

    def answered(self):
        return sum(1 for c in self.chunks if b"\r\n\r\n" in b"".join(x for _, x in list(c)))

    def wait_answered(self, timeout=60):
        deadline = time.time() + timeout
        n = len(self.chunks)
        while time.time() < deadline:
            if self.answered() >= n:
                return
            time.sleep(0.05)
        raise RuntimeError("only %d of %d streams answered" % (self.answered(), n))

    def close(self):
        self.stop = True
        self.t.join()
        for s, _ in self.socks.values():
            s.close()


def curl_subscribers(base, path, token, n, tmp, seconds):
    """n `curl -N` processes reading a stream to /dev/null for `seconds`: subscribers that read
    all they are sent at the cost of a C client (writing it nowhere), each saying at the end how
    many bytes it read."""
    procs = []
    for i in range(n):
        head = os.path.join(tmp, "sub%d.h" % i)
        procs.append((subprocess.Popen(
            ["curl", "-sN", "-o", "/dev/null", "-D", head, "--max-time", str(seconds), "-w",
             "%{size_download}", "-H", "Authorization: Bearer " + token, base + path],
            stdout=subprocess.PIPE, text=True), head))
    deadline = time.time() + 60
    while not all(os.path.exists(h) and os.path.getsize(h) > 0 or p.poll() is not None
                  for p, h in procs):
        if time.time() > deadline:
            raise RuntimeError("curl subscribers did not start")
        time.sleep(0.05)
    return procs


def stop_curls(procs):
    """Waits for them to reach their time; the fewest bytes one of them read."""
    least = None
    for p, head in procs:
        out, _ = p.communicate()
        os.unlink(head)
        n = int(out.strip() or 0)
        least = n if least is None else min(least, n)
    return least


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(tmp):
    """nginx serving a sparse 64 GB file: the reference writer of the org-stream part."""
    d = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(d, "www"), exist_ok=True)
    os.chmod(tmp, 0o755)
    os.chmod(d, 0o755)
    os.chmod(os.path.join(d, "www"), 0o755)
    with open(os.path.join(d, "www", "zeros"), "wb") as f:
        f.truncate(64 << 30)
    os.chmod(os.path.join(d, "www", "zeros"), 0o644)
    port = free_port()
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write("""worker_processes auto; daemon off; pid %(d)s/nginx.pid; error_log %(d)s/error.log warn;
events { worker_connections 4096; }
http { access_log off; sendfile on; types { } default_type application/octet-stream;
  client_body_temp_path %(d)s/cb; proxy_temp_path %(d)s/p; fastcgi_temp_path %(d)s/f;
  uwsgi_temp_path %(d)s/u; scgi_temp_path %(d)s/s;
  server { listen 127.0.0.1:%(port)d; root %(d)s/www; location / { } } }
""" % {"d": d, "port": port})
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    nginx = subprocess.Popen([nginx_bin, "-p", d + "/", "-c", os.path.join(d, "nginx.conf"), "-e",
                              os.path.join(d, "error.log")], stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 20
    while subprocess.run(["curl", "-sf", "-o", "/dev/null", "-r", "0-0", url + "/zeros"]).returncode:
        if time.time() > deadline or nginx.poll() is not None:
            raise RuntimeError("nginx did not start")
        time.sleep(0.05)
    return nginx, url


def reference_readers(url, n, rate, seconds):
    """n curl readers of nginx's file at `rate` bytes/s each, for `seconds`."""
    return [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "--max-time", str(seconds),
                              "--limit-rate", str(max(1024, int(rate))), "-w", "%{size_download}",
                              url + "/zeros"], stdout=subprocess.PIPE, text=True)
            for _ in range(n)]


def start_server(build, tmp):
    cfg = {"chains": {str(CHAIN): {"poolSize": 1}}, "devnet": [CHAIN], "leaseTimeoutMs": 60000}
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(cfg, f)
    srv = subprocess.Popen([os.path.join(build, "forkrun"), "serve", "--listen", "127.0.0.1:0",
                            "--config", os.path.join(tmp, "config.json"), "--no-access-log",
                            "--max-connections", "8000", "--retain-runs", "20000",
                            "--max-active-runs", "100000", "--max-active-runs-per-org", "100000"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base = token = None
    for line in srv.stdout:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            base = m.group(1)
        m = re.search(r"dev token \(.*\): (\S+)", line)
        if m:
            token = m.group(1)
            break
    threading.Thread(target=lambda: [None for _ in srv.stdout], daemon=True).start()
    u = urllib.parse.urlparse(base)
    return srv, base, u.hostname, u.port, token


def latency(host, port, token, api, auth, n, samples):
    body = {"workflowId": "bench", "workflowVersion": 1, "isSimulation": True,
            "simulationMode": "pool", "chains": [CHAIN],
            "workflowDefinition": {"nodes": {"root": {"type": "manual", "children": ["w"]},
                                             "w": {"type": "wait", "props": {"seconds": 600}}}}}
    st, r = api.req("POST", "/v1/runs", body, auth)
    assert st == 201, r
    rid = r["data"]["id"]
    st, r = api.req("GET", "/v1/runs/%s?waitUntil=running&timeoutMs=60000" % rid, None, auth)
    rpc = urllib.parse.urlparse(r["data"]["simulationForks"][0]["rpcUrl"])
    streams = Streams(host, port, "/v1/runs/%s/events" % rid, token, n)
    streams.wait_answered()
    gw = Conn(rpc.hostname, rpc.port)
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    gw.req("POST", rpc.path, call)  # warm the connection; its `cu` event is not a sample
    time.sleep(0.3)
    base = [len(streams.events(i)) for i in range(n)]
    sent = []
    for _ in range(samples):
        time.sleep(0.15)
        t0 = time.perf_counter()
        st, _ = gw.req("POST", rpc.path, call)
        assert st == 200
        sent.append(t0)
    time.sleep(0.5)
    streams.close()
    api.req("POST", "/v1/runs/%s/cancel" % rid, None, auth)
    lat = []
    for i in range(n):
        cus = [at for typ, at in streams.events(i)[base[i]:] if typ == "cu"]
        assert len(cus) == samples, "subscriber %d saw %d cu events for %d calls" % (
            i, len(cus), samples)
        lat.extend((at - t0) * 1000 for at, t0 in zip(cus, sent))
    return lat


REFERENCE_WRITER = r"""
import socket, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(4096)
print(ls.getsockname()[1], flush=True)
n = int(sys.argv[1]); conns = []
while len(conns) < n:
    c, _ = ls.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += c.recv(4096)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"); conns.append(c)
seq = 0
while sys.stdin.buffer.read(1):
    seq += 1
    frame = b'id: %d\nevent: cu\ndata: {"runId":"run_reference","totalCu":%d}\n\n' % (seq, seq)
    for c in conns:
        c.send(frame)
"""


def reference_latency(n, samples):
    """The same fan-out done by the least a writer can do: one Python thread that sends one
    ready-made frame to each of n loopback sockets when told (a byte on its stdin). Timed as
    forkrun is: from just before the telling to each socket being readable."""
    w = subprocess.Popen([sys.executable, "-c", REFERENCE_WRITER, str(n)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=False)
    port = int(w.stdout.readline())
    streams = Streams("127.0.0.1", port, "/", "reference", n)
    streams.wait_answered()
    sent = []
    for _ in range(samples):
        time.sleep(0.15)
        sent.append(time.perf_counter())
        w.stdin.write(b"x")
        w.stdin.flush()
    time.sleep(0.5)
    streams.close()
    w.stdin.close()
    w.wait()
    lat = []
    for i in range(n):
        cus = [at for typ, at in streams.events(i) if typ == "cu"]
        assert len(cus) == samples, (i, len(cus))
        lat.extend((at - t0) * 1000 for at, t0 in zip(cus, sent))
    return lat


def idle_memory(srv, host, port, token, n):
    time.sleep(1)
    before = rss_kb(srv.pid)
    streams = Streams(host, port, "/v1/events", token, n)
    streams.wait_answered()
    time.sleep(1)
    after = rss_kb(srv.pid)
    streams.close()
    return before, after


def wrk_posts(base, token, body_file, duration):
    env = dict(os.environ, BENCH_BODY_FILE=body_file, BENCH_TOKEN=token)
    out = subprocess.run(["wrk", "-t2", "-c64", "-d%ds" % duration, "--latency", "-s",
                          os.path.join(ROOT, "tools/bench/post.lua"), base + "/v1/runs"],
                         env=env, capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if re.search(r"Non-2xx", out):
        raise RuntimeError(out)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--org-subscribers", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--parts", default="memory,latency,org",
                    help="which measures, comma-separated: memory, latency, org")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))

    tmp = tempfile.mkdtemp()
    srv, base, host, port, token = start_server(a.build, tmp)
    auth = {"Authorization": "Bearer " + token}
    api = Conn(host, port)
    print("date: %s, load %s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                 os.getloadavg()[0]))
    try:
        parts = a.parts.split(",")
        if "memory" in parts:
            before, after = idle_memory(srv, host, port, token, a.subscribers)
            print("idle org-stream subscribers: RSS %d -> %d KB, %.1f KB each (%d)" % (
                before, after, (after - before) / a.subscribers, a.subscribers))
            sys.stdout.flush()

        for n in (1, a.subscribers) if "latency" in parts else ():
            lat = latency(host, port, token, api, auth, n, a.samples)
            ref = reference_latency(n, a.samples)
            print("event latency, %d subscriber(s) of one run: p50 %.3f ms, p99 %.3f ms, max %.3f"
                  " ms (%d readings); reference writer p50 %.3f ms, p99 %.3f ms" % (
                      n, pct(lat, 50), pct(lat, 99), max(lat), len(lat), pct(ref, 50),
                      pct(ref, 99)))
            sys.stdout.flush()

        if "org" not in parts:
            return
        body_file = os.path.join(tmp, "create.json")
        with open(body_file, "w") as f:
            json.dump({"workflowId": "bench", "workflowVersion": 1,
                       "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}}, f)
        wrk_posts(base, token, body_file, 2)  # warm-up
        nginx, nginx_url = start_nginx(tmp)
        without, with_subs, with_ref = [], [], []
        rate = None  # bytes/s one org subscriber read, measured in the round before
        try:
            for r in range(a.rounds):
                arms = ["without", "subscribed", "reference"]
                if r % 2:
                    arms.reverse()
                if rate is None:  # the reference needs a subscriber's rate first
                    arms.remove("reference")
                    arms.insert(arms.index("subscribed") + 1, "reference")
                for arm in arms:
                    procs = refs = None
                    if arm == "subscribed":
                        procs = curl_subscribers(base, "/v1/events", token, a.org_subscribers,
                                                 tmp, a.duration + 3)
                    elif arm == "reference":
                        refs = reference_readers(nginx_url, a.org_subscribers, rate,
                                                 a.duration + 3)
                    rps = wrk_posts(base, token, body_file, a.duration)
                    if procs:
                        got = stop_curls(procs)
                        rate = got / a.duration  # the events come while wrk creates
                        with_subs.append(rps)
                        print("  round %d with %d org subscribers: %.0f creates/s (each "
                              "subscriber read >= %.1f MB)" % (r + 1, a.org_subscribers, rps,
                                                                got / 1e6))
                    elif refs:
                        least = min(int(p.communicate()[0].strip() or 0) for p in refs)
                        with_ref.append(rps)
                        print("  round %d with %d reference readers of nginx: %.0f creates/s "
                              "(each read >= %.1f MB)" % (r + 1, a.org_subscribers, rps,
                                                           least / 1e6))
                    else:
                        without.append(rps)
                        print("  round %d without: %.0f creates/s" % (r + 1, rps))
                    sys.stdout.flush()
        finally:
            nginx.terminate()
            nginx.wait()
        w, s = statistics.median(without), statistics.median(with_subs)
        ref = statistics.median(with_ref)
        print("POST /v1/runs median: %.0f/s without, %.0f/s with %d org subscribers: %.1f%% slower;"
              " %.0f/s with the reference readers of the same bytes: %.1f%% slower; the org "
              "stream's own cost: %.1f%%" % (w, s, a.org_subscribers, (w - s) / w * 100, ref,
                                             (w - ref) / w * 100, (ref - s) / w * 100))
    finally:
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()
