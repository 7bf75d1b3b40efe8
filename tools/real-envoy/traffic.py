#!/usr/bin/env python3
"""Traffic driver for the loopback mesh: `traffic.py SCENARIO`.

Sends real HTTP/TCP traffic through the Envoys started by run.sh.  Every
request carries a fixed x-request-id (seeded per scenario) and a user agent;
server-side latency and faults are chosen with request headers that the
access-log format never prints (x-sim-latency-ms, x-sim-fault).

Requests are sent from "pod IPs": external clients of the ingress gateway use
127.0.0.200-209, the sleep pod (client sidecar) uses 127.0.0.20.
Stdlib only (plus the curl binary for the curl-driven requests).
"""
import http.client
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

GW = ("127.0.0.10", 8080)
SLEEP_IP = "127.0.0.20"
# ClusterIPs served by the sleep pod's client sidecar
CLUSTER_IP = {
    "httpbin": ("127.0.1.1", 8000),
    "reviews": ("127.0.1.2", 9080),
    "ratings": ("127.0.1.3", 9080),
    "details": ("127.0.1.4", 9080),
    "payments": ("127.0.1.5", 8080),
    "ledger": ("127.0.1.6", 8080),
    "orders": ("127.0.1.7", 8080),
    "stream": ("127.0.1.8", 50051),
    "events": ("127.0.1.9", 50051),
    "checkout": ("127.0.1.10", 8080),
    "catalog": ("127.0.1.11", 8080),
    "warehouse": ("127.0.1.12", 8080),
}

BROWSERS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
]
TOOLS = ["curl/8.5.0", "curl/7.88.1", "python-requests/2.31.0", "okhttp/4.12.0",
         "Apache-HttpClient/4.5.14 (Java/17.0.10)"]
INTERNAL = ["Go-http-client/1.1", "python-requests/2.31.0", "curl/8.5.0", "Java-http-client/17.0.10",
            "axios/1.6.8", "grpc-go/1.62.1"]


class Ctx:
    def __init__(self, scenario):
        self.rng = random.Random("envoy-triage/" + scenario)
        self.lock = threading.Lock()
        self.results = []

    def rid(self):
        with self.lock:
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def latency(self, lo=2, hi=400):
        with self.lock:
            return max(lo, min(hi, int(self.rng.lognormvariate(3.0, 0.8))))

    def pick(self, seq):
        with self.lock:
            return self.rng.choice(seq)

    def ext_ip(self):
        with self.lock:
            return "127.0.0.%d" % self.rng.randrange(200, 210)


def http_req(target, host, path, ua, rid, src, method="GET", headers=None, body=None, timeout=40):
    """One request on its own connection; returns status or an exception name."""
    try:
        conn = http.client.HTTPConnection(target[0], target[1], timeout=timeout, source_address=(src, 0))
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        conn.putheader("User-Agent", ua)
        conn.putheader("Accept", "*/*")
        conn.putheader("x-request-id", rid)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body.encode() if body is not None else None)
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status
    except Exception as e:  # noqa: BLE001 - we record what the client saw
        return type(e).__name__


def curl(args):
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}"] + args,
                       capture_output=True, text=True)
    return p.stdout.strip() or ("curl-exit-%d" % p.returncode)


# ------------------------------------------------------------------ request builders
def gw(ctx, host, path, ua=None, lat=None, fault=None, method="GET", body=None, timeout=40):
    ua = ua or ctx.pick(BROWSERS + TOOLS)
    hdr = {}
    if lat is None:
        lat = ctx.latency()
    if lat:
        hdr["x-sim-latency-ms"] = str(lat)
    if fault:
        hdr["x-sim-fault"] = fault
    rid, src = ctx.rid(), ctx.ext_ip()
    return lambda: http_req(GW, host, path, ua, rid, src, method, hdr, body, timeout)


def sc(ctx, svc, path, ua=None, lat=None, fault=None, method="GET", body=None, timeout=40):
    """Request from the sleep pod's app to a Service; captured by the client sidecar."""
    ua = ua or ctx.pick(INTERNAL)
    target = CLUSTER_IP[svc]
    host = "%s:%d" % (svc, target[1])
    hdr = {}
    if lat is None:
        lat = ctx.latency()
    if lat:
        hdr["x-sim-latency-ms"] = str(lat)
    if fault:
        hdr["x-sim-fault"] = fault
    rid = ctx.rid()
    return lambda: http_req(target, host, path, ua, rid, SLEEP_IP, method, hdr, body, timeout)


def tcp_session(dst, payload, hold_s=0.0, src=SLEEP_IP):
    def run():
        s = socket.socket()
        s.settimeout(5)
        try:
            s.bind((src, 0))
            s.connect(dst)
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            time.sleep(hold_s)
            s.sendall(payload[:16])
            s.recv(65536)
            return "tcp-ok-%d" % len(got) if got else "tcp-closed"
        except Exception as e:  # noqa: BLE001
            return type(e).__name__
        finally:
            s.close()
    return run


# ------------------------------------------------------------------ healthy background traffic
GW_HEALTHY = [
    ("httpbin.example.com", "/get"), ("httpbin.example.com", "/headers"), ("httpbin.example.com", "/ip"),
    ("httpbin.example.com", "/status/200"), ("httpbin.example.com", "/json"),
    ("httpbin.example.com", "/anything/checkout?step=2"), ("httpbin.example.com", "/bytes/2048"),
    ("www.example.com", "/"), ("www.example.com", "/static/js/app.3f9c2b.js"),
    ("www.example.com", "/api/products?page=2&size=24"), ("www.example.com", "/api/cart"),
    ("www.example.com", "/favicon.ico"),
    ("bookinfo.example.com", "/ratings/0"), ("bookinfo.example.com", "/ratings/1"),
    ("search.example.com", "/api/search?q=winter+boots"), ("search.example.com", "/api/suggest?q=jack"),
    ("inventory.example.com", "/api/v1/items?limit=50"), ("inventory.example.com", "/api/v1/items/A-100"),
]
SC_HEALTHY = [
    ("httpbin", "/get"), ("httpbin", "/headers"), ("httpbin", "/status/200"), ("httpbin", "/anything/ping"),
    ("orders", "/api/v1/orders/8812"), ("orders", "/api/v1/orders?customer=4711"),
]


def healthy(ctx, n_gw, n_sc, odd=0):
    jobs = []
    for _ in range(n_gw):
        host, path = ctx.pick(GW_HEALTHY)
        jobs.append(gw(ctx, host, path))
    for _ in range(n_sc):
        svc, path = ctx.pick(SC_HEALTHY)
        jobs.append(sc(ctx, svc, path))
    # a few ordinary non-2xx answers from the apps themselves
    odd_jobs = [
        lambda: gw(ctx, "httpbin.example.com", "/status/404"),
        lambda: gw(ctx, "www.example.com", "/api/products/999999/reviews", lat=4),
        lambda: sc(ctx, "orders", "/api/v1/orders", method="POST", body='{"sku":"A-100","qty":1}'),
        lambda: gw(ctx, "httpbin.example.com", "/status/204"),
        lambda: sc(ctx, "httpbin", "/status/401"),
    ]
    for i in range(odd):
        jobs.append(odd_jobs[i % len(odd_jobs)]())
    return jobs


def shuffled(ctx, jobs):
    with ctx.lock:
        ctx.rng.shuffle(jobs)
    return jobs


def run_jobs(jobs, workers=6, spacing=0.02):
    out = []
    with ThreadPoolExecutor(max_workers=workers) as ex:
        futs = []
        for j in jobs:
            futs.append(ex.submit(j))
            time.sleep(spacing)
        for f in futs:
            out.append(f.result())
    return out


def parallel(jobs):
    """Start all jobs at (nearly) the same moment."""
    results = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def wrap(i, j):
        barrier.wait()
        results[i] = j()
    ts = [threading.Thread(target=wrap, args=(i, j)) for i, j in enumerate(jobs)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


# ------------------------------------------------------------------ scenarios
def s_timeout_15s(ctx):
    slow = [gw(ctx, "httpbin.example.com", "/delay/20", ua=ctx.pick(TOOLS), lat=0, timeout=40) for _ in range(6)]
    bg = shuffled(ctx, healthy(ctx, 18, 6, odd=2))
    res = {}
    t = threading.Thread(target=lambda: res.setdefault("slow", parallel(slow)))
    t.start()
    res["bg"] = run_jobs(bg, workers=3, spacing=0.35)
    t.join()
    return res


def s_per_try_timeout(ctx):
    jobs = [gw(ctx, "search.example.com", "/api/search?q=gore-tex+jacket&sort=relevance", lat=3000)
            for _ in range(8)]
    jobs += [gw(ctx, "search.example.com", "/v2/search?q=rain+jacket", lat=3000) for _ in range(4)]
    jobs += [gw(ctx, "search.example.com", "/api/search/status/503", lat=5) for _ in range(3)]
    jobs += [gw(ctx, "search.example.com", "/api/search?q=socks", lat=ctx.latency(20, 300)) for _ in range(8)]
    jobs += healthy(ctx, 16, 4)
    return run_jobs(shuffled(ctx, jobs), workers=8, spacing=0.1)


def s_refused_localhost(ctx):
    jobs = [sc(ctx, "reviews", "/reviews/%d" % (i % 3)) for i in range(12)]
    jobs += healthy(ctx, 10, 12, odd=1)
    return run_jobs(shuffled(ctx, jobs), workers=4, spacing=0.05)


def s_mtls_strict_plaintext(ctx):
    jobs = [sc(ctx, "ratings", "/ratings/%d" % (i % 2)) for i in range(10)]
    jobs += [gw(ctx, "bookinfo.example.com", "/ratings/%d" % (i % 2)) for i in range(8)]
    jobs += healthy(ctx, 6, 8)
    return run_jobs(shuffled(ctx, jobs), workers=4, spacing=0.05)


def s_tls_mismatch(ctx):
    jobs = [sc(ctx, "details", "/details/%d" % (i % 2)) for i in range(8)]
    jobs += [sc(ctx, "payments", "/api/v1/payments/authorize", method="POST",
                body='{"amount":1999,"currency":"EUR"}') for _ in range(6)]
    jobs += [sc(ctx, "ledger", "/api/v1/ledger/entries?account=4711") for _ in range(6)]
    jobs += healthy(ctx, 8, 10)
    return run_jobs(shuffled(ctx, jobs), workers=4, spacing=0.05)


def s_protocol_error(ctx):
    jobs = [gw(ctx, "inventory.example.com", "/api/v1/export/daily.csv", fault="garbage", ua=ctx.pick(TOOLS))
            for _ in range(8)]
    jobs += [sc(ctx, "catalog", "/api/v1/catalog/items/%d" % (100 + i)) for i in range(5)]
    # h2c (prior knowledge) straight at an HTTP/1.1-only inbound port
    for i in range(5):
        rid = ctx.rid()
        jobs.append(lambda rid=rid, i=i: curl([
            "--http2-prior-knowledge", "--interface", SLEEP_IP, "-A", "grpc-go/1.62.1",
            "-H", "x-request-id: " + rid, "http://127.0.0.140:8080/api/v1/legacy/items/%d" % i]))
    # the same port answers HTTP/1.1 fine
    for i in range(6):
        rid = ctx.rid()
        jobs.append(lambda rid=rid, i=i: curl([
            "--interface", SLEEP_IP, "-A", "curl/8.5.0", "-H", "x-request-id: " + rid,
            "-H", "Host: legacy-api:8080", "http://127.0.0.140:8080/api/v1/legacy/items/%d" % i]))
    jobs += [gw(ctx, "inventory.example.com", "/api/v1/items?limit=50") for _ in range(5)]
    jobs += healthy(ctx, 8, 4)
    return run_jobs(shuffled(ctx, jobs), workers=4, spacing=0.05)


def s_reset(ctx):
    jobs = [sc(ctx, "orders", "/api/v1/orders/%d" % (8800 + i), fault="close") for i in range(6)]
    jobs += [sc(ctx, "orders", "/api/v1/orders/%d/items" % (8900 + i), fault="rst") for i in range(4)]
    jobs += [sc(ctx, "orders", "/api/v1/orders?status=open&page=%d" % i, fault="truncate") for i in range(3)]
    jobs += [sc(ctx, "stream", "/shop.v1.Stream/Subscribe", method="POST", body='{"topic":"orders"}')
             for _ in range(5)]
    jobs += [sc(ctx, "events", "/shop.v1.Events/Publish", method="POST", body='{"type":"order.created"}')
             for _ in range(3)]
    jobs += [sc(ctx, "orders", "/api/v1/orders/%d" % (7700 + i)) for i in range(6)]
    jobs += healthy(ctx, 8, 4)
    return run_jobs(shuffled(ctx, jobs), workers=4, spacing=0.05)


def s_circuit_breaker(ctx):
    res = {"bg1": run_jobs(healthy(ctx, 6, 6), workers=3)}
    for wave in range(2):
        burst = [sc(ctx, "checkout", "/api/v1/checkout", method="POST", lat=800,
                    body='{"cart":"c-%d"}' % (4400 + wave * 10 + i), ua="Java-http-client/17.0.10")
                 for i in range(10)]
        res["wave%d" % wave] = parallel(burst)
        time.sleep(0.3)
    res["single"] = run_jobs([sc(ctx, "checkout", "/api/v1/checkout/quote", lat=40) for _ in range(4)], workers=1)
    res["bg2"] = run_jobs(healthy(ctx, 6, 6), workers=3)
    return res


def s_no_route(ctx):
    jobs = [gw(ctx, h, p) for h, p in (
        ("admin.example.com", "/"), ("admin.example.com", "/login"), ("shop.example.net", "/"),
        ("127.0.0.10:8080", "/"), ("127.0.0.10", "/.env"), ("www.example.com.evil.test", "/wp-login.php"),
        ("api.example.com", "/v1/users/me"), ("api.example.com", "/v1/orders"))]
    jobs += [gw(ctx, "legacy.example.com", "/reports/%d" % i) for i in range(5)]
    for i in range(4):
        rid = ctx.rid()
        jobs.append(lambda rid=rid, i=i: http_req(("127.0.2.2", 80), "api.partner.example", "/v2/rates?base=EUR",
                                                  "Go-http-client/1.1", rid, SLEEP_IP))
    jobs += healthy(ctx, 10, 6)
    return run_jobs(shuffled(ctx, jobs), workers=4, spacing=0.05)


def s_no_healthy(ctx):
    jobs = [gw(ctx, "cart.example.com", p) for p in ("/api/cart", "/api/cart/items", "/api/cart") * 3 + ("/",)]
    jobs += [tcp_session(("127.0.2.1", 443), b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 32)
             for _ in range(3)]
    jobs += healthy(ctx, 10, 6)
    return run_jobs(shuffled(ctx, jobs), workers=4, spacing=0.05)


def s_tcp(ctx):
    jobs = [tcp_session(("127.0.1.20", 6379), b"*1\r\n$4\r\nPING\r\n") for _ in range(6)]
    jobs += [tcp_session(("127.0.1.21", 3306), b"\x21\x00\x00\x00\x03SELECT id, status FROM orders LIMIT 1",
                         hold_s=0.05 + 0.05 * i) for i in range(6)]
    jobs += healthy(ctx, 4, 4)
    return run_jobs(shuffled(ctx, jobs), workers=4, spacing=0.05)


def s_connect_timeout(ctx):
    slow = [sc(ctx, "warehouse", "/api/v1/stock/%s" % sku, ua="Java-http-client/17.0.10")
            for sku in ("A-100", "B-220", "C-310", "A-100")]
    slow += [tcp_session(("127.0.1.22", 5432), b"\x00\x00\x00\x08\x04\xd2\x16\x2f") for _ in range(3)]
    res = {}
    t = threading.Thread(target=lambda: res.setdefault("slow", parallel(slow)))
    t.start()
    res["bg"] = run_jobs(shuffled(ctx, healthy(ctx, 10, 6)), workers=3, spacing=0.15)
    t.join()
    return res


def s_healthy(ctx):
    jobs = healthy(ctx, 120, 45, odd=5)
    # one request with a very long query string (> 32 KiB, used to show CRI P/F line splitting);
    # www.example.com has no sidecar behind it, so only the gateway logs it
    long_q = "&".join("filter%03d=%s" % (i, "abcdefghij" * 9) for i in range(340))
    jobs.append(gw(ctx, "www.example.com", "/api/products?" + long_q, ua=BROWSERS[0]))
    return run_jobs(shuffled(ctx, jobs), workers=6, spacing=0.02)


def s_client_disconnect(ctx):
    jobs = []
    for i in range(5):
        rid, src = ctx.rid(), ctx.ext_ip()
        jobs.append(lambda rid=rid, src=src: curl([
            "--max-time", "1", "--interface", src, "-A", "curl/8.5.0", "-H", "x-request-id: " + rid,
            "-H", "Host: httpbin.example.com", "http://127.0.0.10:8080/delay/5"]))
    for i in range(3):
        rid = ctx.rid()
        jobs.append(lambda rid=rid: curl([
            "--max-time", "1", "--interface", SLEEP_IP, "-A", "curl/8.5.0", "-H", "x-request-id: " + rid,
            "-H", "Host: httpbin:8000", "http://127.0.1.1:8000/delay/5"]))
    jobs += healthy(ctx, 10, 6)
    return run_jobs(shuffled(ctx, jobs), workers=4, spacing=0.05)


def s_mixed(ctx):
    """Traffic for the notifications pod whose Envoy writes access logs to stdout."""
    tgt = ("127.0.0.180", 8080)
    jobs = []
    for i in range(40):
        rid = ctx.rid()
        fault = "close" if i in (5, 17, 29) else None
        if i % 8 == 0:
            path, ua = "/healthz/ready", "kube-probe/1.29"
        elif i == 22:
            path, ua = "/api/v1/notifications/status/503", "Go-http-client/1.1"
        elif i % 5 == 0:
            path, ua = "/api/v1/notifications", "Go-http-client/1.1"
        else:
            path, ua = "/api/v1/notifications?user=%d" % (4700 + i), "Go-http-client/1.1"
        hdr = {"x-sim-latency-ms": str(ctx.latency())}
        if fault:
            hdr["x-sim-fault"] = fault
        method, body = ("POST", '{"user":%d,"template":"order-shipped"}' % (4700 + i)) \
            if path == "/api/v1/notifications" else ("GET", None)
        jobs.append(lambda rid=rid, path=path, hdr=hdr, ua=ua, method=method, body=body: http_req(
            tgt, "notifications.shop.svc.cluster.local:8080", path, ua, rid, SLEEP_IP, method, hdr, body))
    return run_jobs(jobs, workers=2, spacing=0.1)


SCENARIOS = {
    "timeout-15s": s_timeout_15s,
    "per-try-timeout": s_per_try_timeout,
    "refused-localhost": s_refused_localhost,
    "mtls-strict-plaintext": s_mtls_strict_plaintext,
    "tls-mismatch": s_tls_mismatch,
    "protocol-error": s_protocol_error,
    "reset": s_reset,
    "circuit-breaker": s_circuit_breaker,
    "no-route": s_no_route,
    "no-healthy": s_no_healthy,
    "tcp": s_tcp,
    "healthy": s_healthy,
    "client-disconnect": s_client_disconnect,
    "connect-timeout": s_connect_timeout,
    "mixed": s_mixed,
}


def summarize(res):
    flat = []
    if isinstance(res, dict):
        for v in res.values():
            flat += v
    else:
        flat = res
    counts = {}
    for r in flat:
        counts[str(r)] = counts.get(str(r), 0) + 1
    return " ".join("%s=%d" % kv for kv in sorted(counts.items()))


if __name__ == "__main__":
    name = sys.argv[1]
    t0 = time.time()
    res = SCENARIOS[name](Ctx(name))
    print("%-22s client saw: %s  (%.1fs)" % (name, summarize(res), time.time() - t0), flush=True)
