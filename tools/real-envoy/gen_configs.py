#!/usr/bin/env python3
"""Writes the Envoy bootstrap YAMLs of the loopback "mesh" into configs/.

The YAMLs are committed; run.sh re-runs this script first (output is
deterministic, so a clean checkout shows no diff).  Stdlib only.

The mesh imitates Istio sidecars and an ingress gateway:
  * Istio's default TEXT access-log format (Istio >= 1.23, %UPSTREAM_CLUSTER_RAW%)
    and, as a second file logger on every listener, Istio's default JSON map
    (typed ``log_format.json_format``);
  * Istio cluster names (outbound|port||fqdn, inbound|port||, BlackHoleCluster),
    route names (``default``, VirtualService route names, ``block_all``);
  * Istio >= 1.24 default retry policies (outbound: connect-failure,refused-stream,
    unavailable,cancelled,retriable-status-codes with no codes; inbound:
    reset-before-request), routes with ``timeout: 0s`` unless a "VirtualService"
    sets one, upstream bind 127.0.0.6 for inbound clusters.

Relative paths (certs/, logs/) are resolved by Envoy against its working
directory, which run.sh sets to a scratch directory.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- formats
ISTIO_TEXT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% '
    '%PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% '
    '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% '
    '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% '
    '%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" '
    '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" '
    "%UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% "
    "%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n"
)

ISTIO_JSON = {
    "start_time": "%START_TIME%",
    "route_name": "%ROUTE_NAME%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "protocol": "%PROTOCOL%",
    "response_code": "%RESPONSE_CODE%",
    "response_flags": "%RESPONSE_FLAGS%",
    "response_code_details": "%RESPONSE_CODE_DETAILS%",
    "connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%",
    "bytes_received": "%BYTES_RECEIVED%",
    "bytes_sent": "%BYTES_SENT%",
    "duration": "%DURATION%",
    "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    "x_forwarded_for": "%REQ(X-FORWARDED-FOR)%",
    "user_agent": "%REQ(USER-AGENT)%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "authority": "%REQ(:AUTHORITY)%",
    "upstream_host": "%UPSTREAM_HOST%",
    "upstream_cluster": "%UPSTREAM_CLUSTER_RAW%",
    "upstream_local_address": "%UPSTREAM_LOCAL_ADDRESS%",
    "downstream_local_address": "%DOWNSTREAM_LOCAL_ADDRESS%",
    "downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
    "requested_server_name": "%REQUESTED_SERVER_NAME%",
    "upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
}

# ---------------------------------------------------------------- topology
# Every "pod" has a pod IP on loopback.  A sidecar's inbound listener sits on
# <pod IP>:<targetPort> (what callers dial); the application container is
# reached at <app IP>:<targetPort> (in a real pod both are the same address,
# but without iptables the sidecar and the app cannot share it).
PODS = {
    # name: (pod name, pod ip, app ip, target port, namespace)
    "gateway": ("istio-ingressgateway-7d4f8b9c6-x2x9z", "127.0.0.10", None, 8080, "istio-system"),
    "sleep": ("sleep-7656cf8794-9v2gq", "127.0.0.20", None, None, "foo"),
    "httpbin": ("httpbin-8cb97b8f4-9dk9p", "127.0.0.30", "127.0.0.31", 8080, "foo"),
    # reviews: the app listens on 127.0.0.1:9080 only; the sidecar forwards to the pod IP
    "reviews": ("reviews-v1-5b5d6494f4-qg7lz", "127.0.0.40", "127.0.0.41", 9080, "bookinfo"),
    "ratings": ("ratings-v1-85c74b6cb4-m8n7x", "127.0.0.50", "127.0.0.51", 9080, "bookinfo"),
    "payments": ("payments-6f9c7d5b8-h2k4q", "127.0.0.70", "127.0.0.71", 8080, "shop"),
    "ledger": ("ledger-5c8d9f7b6-p7r2t", "127.0.0.80", "127.0.0.81", 8080, "shop"),
    "orders": ("orders-7b9c8d6f5-w3x4v", "127.0.0.100", "127.0.0.101", 8080, "shop"),
    "legacy": ("legacy-api-6d5c4b9f8-z9k8x", "127.0.0.140", "127.0.0.141", 8080, "shop"),
    "notifications": ("notifications-58d7c9b6f4-t6n2m", "127.0.0.180", "127.0.0.181", 8080, "shop"),
}

ADMIN_PORT = 15000



# ---------------------------------------------------------------- YAML emitter
PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v)


def to_yaml(obj, indent=0):
    pad = "  " * indent
    out = []
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        for k, v in obj.items():
            key = k if PLAIN_KEY.match(k) else json.dumps(k)
            if isinstance(v, (dict, list)) and v:
                out.append("%s%s:\n%s" % (pad, key, to_yaml(v, indent + 1)))
            elif isinstance(v, (dict, list)):
                out.append("%s%s: %s\n" % (pad, key, "{}" if isinstance(v, dict) else "[]"))
            else:
                out.append("%s%s: %s\n" % (pad, key, _scalar(v)))
        return "".join(out)
    if isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)) and item:
                body = to_yaml(item, indent + 1)
                # put the first line right after "- "
                first, rest = body[len(pad) + 2:].split("\n", 1)
                out.append("%s- %s\n%s" % (pad, first, rest))
            else:
                out.append("%s- %s\n" % (pad, _scalar(item) if not isinstance(item, (dict, list)) else "{}"))
        return "".join(out)
    return pad + _scalar(obj) + "\n"


# ---------------------------------------------------------------- builders
def addr(ip, port):
    return {"socket_address": {"address": ip, "port_value": port}}


def access_logs(proxy, stdout=False):
    text_path = "/dev/stdout" if stdout else "logs/%s.log" % proxy
    logs = [
        {
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": text_path,
                "log_format": {"text_format_source": {"inline_string": ISTIO_TEXT}},
            },
        }
    ]
    if not stdout:
        logs.append(
            {
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                    "path": "logs/%s.json" % proxy,
                    "log_format": {"json_format": dict(ISTIO_JSON)},
                },
            }
        )
    return logs


def previous_hosts():
    return {
        "retry_host_predicate": [
            {
                "name": "envoy.retry_host_predicates.previous_hosts",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
                },
            }
        ],
        "host_selection_retry_max_attempts": 5,
    }


def istio_outbound_retry():
    # Istio >= 1.24 default (no 503 in retriable_status_codes)
    r = {
        "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
        "num_retries": 2,
    }
    r.update(previous_hosts())
    return r


def vs_retry(retry_on, attempts, per_try):
    r = {"retry_on": retry_on, "num_retries": attempts, "per_try_timeout": per_try}
    r.update(previous_hosts())
    return r


def istio_inbound_retry():
    # Istio >= 1.24 inbound default
    return {"retry_on": "reset-before-request", "num_retries": 2}


def route(name, cluster, prefix="/", timeout="0s", retry=None, **extra):
    r = {"match": {"prefix": prefix}, "route": {"cluster": cluster, "timeout": timeout}}
    if retry:
        r["route"]["retry_policy"] = retry
    r["route"].update(extra)
    if name:
        r = dict([("name", name)] + list(r.items()))
    return r


def hcm(proxy, stat_prefix, route_config, gateway=False, codec="AUTO", stdout=False):
    cfg = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": stat_prefix,
        "codec_type": codec,
        "server_name": "istio-envoy",
        "use_remote_address": gateway,
        "normalize_path": True,
        "access_log": access_logs(proxy, stdout),
        "route_config": route_config,
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
            }
        ],
    }
    if gateway:
        cfg["xff_num_trusted_hops"] = 0
    return {"name": "envoy.filters.network.http_connection_manager", "typed_config": cfg}


def tcp_proxy(proxy, cluster):
    return {
        "name": "envoy.filters.network.tcp_proxy",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
            "stat_prefix": cluster,
            "cluster": cluster,
            "access_log": access_logs(proxy),
        },
    }


def tls_certs(ident):
    return [
        {
            "certificate_chain": {"filename": "certs/%s.pem" % ident},
            "private_key": {"filename": "certs/%s.key" % ident},
        }
    ]


def upstream_tls(ident, sni, ca="certs/root-cert.pem"):
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": sni,
            "common_tls_context": {
                "tls_certificates": tls_certs(ident),
                "validation_context": {"trusted_ca": {"filename": ca}},
            },
        },
    }


def downstream_tls(ident, ca="certs/root-cert.pem"):
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "require_client_certificate": True,
            "common_tls_context": {
                "tls_certificates": tls_certs(ident),
                "validation_context": {"trusted_ca": {"filename": ca}},
            },
        },
    }


def cluster(name, endpoints, bind=None, tls=None, h2=False, cb=None, max_req_per_conn=None,
            connect_timeout="10s"):
    c = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": connect_timeout,
        "lb_policy": "LEAST_REQUEST",
        "load_assignment": {"cluster_name": name},
    }
    if endpoints:
        c["load_assignment"]["endpoints"] = [
            {"lb_endpoints": [{"endpoint": {"address": addr(ip, port)}} for ip, port in endpoints]}
        ]
    c["circuit_breakers"] = {
        "thresholds": [
            cb
            or {
                "max_connections": 4294967295,
                "max_pending_requests": 4294967295,
                "max_requests": 4294967295,
                "max_retries": 4294967295,
            }
        ]
    }
    if bind:
        c["upstream_bind_config"] = {"source_address": {"address": bind, "port_value": 0}}
    if tls:
        c["transport_socket"] = tls
    opts = {"@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"}
    if max_req_per_conn:
        opts["common_http_protocol_options"] = {"max_requests_per_connection": max_req_per_conn}
    opts["explicit_http_config"] = {"http2_protocol_options": {}} if h2 else {"http_protocol_options": {}}
    c["typed_extension_protocol_options"] = {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": opts}
    return c


def bootstrap(proxy, listeners, clusters):
    pod, ip = PODS[proxy][0], PODS[proxy][1]
    return {
        "node": {"id": "%s~%s~%s.%s~%s.svc.cluster.local" % ("router" if proxy == "gateway" else "sidecar",
                                                             ip, pod, PODS[proxy][4], PODS[proxy][4]),
                 "cluster": pod.rsplit("-", 2)[0] + "." + PODS[proxy][4]},
        "admin": {"address": addr(ip, ADMIN_PORT)},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


def svc(name, ns):
    return "%s.%s.svc.cluster.local" % (name, ns)


def vhost_for(name, ns, port, cluster_ip, routes):
    fq = svc(name, ns)
    domains = [fq, "%s:%d" % (fq, port), name, "%s:%d" % (name, port), "%s.%s" % (name, ns),
               "%s.%s:%d" % (name, ns, port), cluster_ip, "%s:%d" % (cluster_ip, port)]
    return {"name": "%s:%d" % (fq, port), "domains": domains, "routes": routes}


# ---------------------------------------------------------------- gateway
def gateway():
    p = "gateway"
    gw_ip = PODS[p][1]
    httpbin = "outbound|8000||" + svc("httpbin", "foo")
    ratings = "outbound|9080||" + svc("ratings", "bookinfo")
    search = "outbound|8080||" + svc("search", "shop")
    frontend = "outbound|80||" + svc("frontend", "shop")
    inventory = "outbound|8080||" + svc("inventory", "shop")
    cart = "outbound|8080||" + svc("cart", "shop")
    missing = "outbound|80||" + svc("legacy", "old")

    def vh(host, routes):
        return {"name": "%s:80" % host, "domains": [host, host + ":*"], "routes": routes}

    rc = {
        "name": "http.8080",
        "validate_clusters": False,  # lets a route name a cluster that does not exist (-> NC)
        "virtual_hosts": [
            vh("httpbin.example.com", [
                # VirtualService with `timeout: 15s` on /delay
                route("httpbin-delay", httpbin, "/delay/", "15s", istio_outbound_retry()),
                route(None, httpbin, "/", "0s", istio_outbound_retry()),
            ]),
            vh("search.example.com", [
                # VS: timeout 2.5s + retries {attempts: 2, perTryTimeout: 1s}
                route("search-v2", search, "/v2/", "2.500s", vs_retry("5xx,reset,connect-failure", 2, "1s")),
                # VS: retries {attempts: 2, perTryTimeout: 1s}, no timeout
                route("search", search, "/", "0s", vs_retry("5xx,reset,connect-failure", 2, "1s")),
            ]),
            vh("bookinfo.example.com", [route("ratings", ratings, "/ratings", "0s", istio_outbound_retry())]),
            vh("www.example.com", [route(None, frontend, "/", "0s", istio_outbound_retry())]),
            vh("inventory.example.com", [route(None, inventory, "/", "0s", istio_outbound_retry())]),
            vh("cart.example.com", [route("cart", cart, "/", "0s", istio_outbound_retry())]),
            vh("legacy.example.com", [route("legacy", missing, "/", "0s", istio_outbound_retry())]),
        ],
    }
    listeners = [{
        "name": "0.0.0.0_8080",
        "address": addr(gw_ip, 8080),
        "filter_chains": [{"filters": [hcm(p, "outbound_0.0.0.0_8080", rc, gateway=True)]}],
    }]
    clusters = [
        cluster(httpbin, [("127.0.0.30", 8080)], bind=gw_ip,
                tls=upstream_tls("gateway", "outbound_.8000_._." + svc("httpbin", "foo"))),
        cluster(ratings, [("127.0.0.50", 9080)], bind=gw_ip,
                tls=upstream_tls("gateway", "outbound_.9080_._." + svc("ratings", "bookinfo"))),
        cluster(search, [("127.0.0.130", 8080)], bind=gw_ip),
        cluster(frontend, [("127.0.0.170", 8080)], bind=gw_ip),
        cluster(inventory, [("127.0.0.90", 8080)], bind=gw_ip),
        cluster(cart, [], bind=gw_ip),  # Service with no ready endpoints
    ]
    return bootstrap(p, listeners, clusters)


# ---------------------------------------------------------------- client sidecar
def sleep_sidecar():
    p = "sleep"
    ip = PODS[p][1]
    listeners, clusters = [], []

    def http_svc(name, ns, port, cluster_ip, endpoint, tls_sni=None, ident="sleep", h2=False, cb=None,
                 mrpc=None, ca="certs/root-cert.pem", connect_timeout="10s"):
        cname = "outbound|%d||%s" % (port, svc(name, ns))
        rc = {
            "name": str(port),
            "virtual_hosts": [vhost_for(name, ns, port, cluster_ip,
                                        [route("default", cname, "/", "0s", istio_outbound_retry())])],
        }
        listeners.append({
            "name": "%s_%d" % (cluster_ip, port),
            "address": addr(cluster_ip, port),
            "filter_chains": [{"filters": [hcm(p, "outbound_%s_%d" % (cluster_ip, port), rc)]}],
        })
        tls = upstream_tls(ident, tls_sni, ca) if tls_sni else None
        clusters.append(cluster(cname, [endpoint], bind=ip, tls=tls, h2=h2, cb=cb, max_req_per_conn=mrpc,
                                connect_timeout=connect_timeout))

    def sni(name, ns, port):
        return "outbound_.%d_._.%s" % (port, svc(name, ns))

    http_svc("httpbin", "foo", 8000, "127.0.1.1", ("127.0.0.30", 8080), sni("httpbin", "foo", 8000))
    http_svc("reviews", "bookinfo", 9080, "127.0.1.2", ("127.0.0.40", 9080), sni("reviews", "bookinfo", 9080))
    # DestinationRule tls.mode DISABLE towards a STRICT mTLS workload
    http_svc("ratings", "bookinfo", 9080, "127.0.1.3", ("127.0.0.50", 9080))
    # DestinationRule ISTIO_MUTUAL towards a pod without sidecar (plaintext app)
    http_svc("details", "bookinfo", 9080, "127.0.1.4", ("127.0.0.60", 9080), sni("details", "bookinfo", 9080))
    # server presents a certificate from another CA
    http_svc("payments", "shop", 8080, "127.0.1.5", ("127.0.0.70", 8080), sni("payments", "shop", 8080))
    # server only trusts another CA for client certificates
    http_svc("ledger", "shop", 8080, "127.0.1.6", ("127.0.0.80", 8080), sni("ledger", "shop", 8080))
    http_svc("orders", "shop", 8080, "127.0.1.7", ("127.0.0.100", 8080), sni("orders", "shop", 8080))
    # gRPC-ish services (HTTP/2 upstream) that reset streams
    http_svc("stream", "shop", 50051, "127.0.1.8", ("127.0.0.150", 50051), h2=True)
    http_svc("events", "shop", 50051, "127.0.1.9", ("127.0.0.151", 50051), h2=True)
    # DestinationRule connectionPool: tcp.maxConnections 1, http1MaxPendingRequests 1, maxRequestsPerConnection 1
    http_svc("checkout", "shop", 8080, "127.0.1.10", ("127.0.0.110", 8080),
             cb={"max_connections": 1, "max_pending_requests": 1, "max_requests": 4294967295,
                 "max_retries": 4294967295}, mrpc=1)
    # port declared as HTTP/2 (e.g. named grpc-*) but the app only speaks HTTP/1.1
    http_svc("catalog", "shop", 8080, "127.0.1.11", ("127.0.0.160", 8080), h2=True)
    # endpoint that drops SYNs; DestinationRule connectionPool.tcp.connectTimeout: 1s
    http_svc("warehouse", "shop", 8080, "127.0.1.12", ("127.0.0.190", 8080), connect_timeout="1s")

    # TCP services
    for name, ns, port, cip, ep, cto in (
            ("redis", "cache", 6379, "127.0.1.20", ("127.0.0.120", 6379), "10s"),
            ("mysql", "db", 3306, "127.0.1.21", ("127.0.0.121", 3306), "10s"),
            ("postgres", "db", 5432, "127.0.1.22", ("127.0.0.191", 5432), "1s")):  # SYNs dropped
        cname = "outbound|%d||%s" % (port, svc(name, ns))
        listeners.append({"name": "%s_%d" % (cip, port), "address": addr(cip, port),
                          "filter_chains": [{"filters": [tcp_proxy(p, cname)]}]})
        c = cluster(cname, [ep], bind=ip, connect_timeout=cto)
        del c["typed_extension_protocol_options"]
        clusters.append(c)
    # outboundTrafficPolicy REGISTRY_ONLY: unknown TCP destination -> BlackHoleCluster
    listeners.append({"name": "127.0.2.1_443", "address": addr("127.0.2.1", 443),
                      "filter_chains": [{"filters": [tcp_proxy(p, "BlackHoleCluster")]}]})
    clusters.append({"name": "BlackHoleCluster", "type": "STATIC", "connect_timeout": "10s"})
    # ... and unknown plain-HTTP destination -> direct 502 on route block_all
    rc = {"name": "80", "virtual_hosts": [{
        "name": "block_all", "domains": ["*"],
        "routes": [{"name": "block_all", "match": {"prefix": "/"}, "direct_response": {"status": 502}}]}]}
    listeners.append({"name": "127.0.2.2_80", "address": addr("127.0.2.2", 80),
                      "filter_chains": [{"filters": [hcm(p, "outbound_127.0.2.2_80", rc)]}]})
    return bootstrap(p, listeners, clusters)


# ---------------------------------------------------------------- server sidecars
def server_sidecar(p, mode="PERMISSIVE", server_ident=None, client_ca="certs/root-cert.pem", codec="AUTO",
                   stdout=False):
    pod, ip, app_ip, port, ns = PODS[p]
    cname = "inbound|%d||" % port
    rc = {
        "name": cname,
        "validate_clusters": False,
        "virtual_hosts": [{
            "name": "inbound|http|%d" % port,
            "domains": ["*"],
            "routes": [route("default", cname, "/", "0s", istio_inbound_retry())],
        }],
    }
    chains = []
    if mode in ("PERMISSIVE", "STRICT"):
        chains.append({
            "name": "%s_%d_mtls" % (ip, port),
            "filter_chain_match": {"transport_protocol": "tls"},
            "transport_socket": downstream_tls(server_ident or p, client_ca),
            "filters": [hcm(p, "inbound_%s_%d" % (ip, port), rc, codec=codec, stdout=stdout)],
        })
    if mode in ("PERMISSIVE", "DISABLE"):
        chains.append({
            "name": "%s_%d_plaintext" % (ip, port),
            "filter_chain_match": {"transport_protocol": "raw_buffer"},
            "filters": [hcm(p, "inbound_%s_%d" % (ip, port), rc, codec=codec, stdout=stdout)],
        })
    listener = {
        "name": "virtualInbound_%s_%d" % (ip, port),
        "address": addr(ip, port),
        "listener_filters": [{
            "name": "envoy.filters.listener.tls_inspector",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"},
        }],
        # connections that match no filter chain are logged here (0 NR filter_chain_not_found);
        # like Istio, only records carrying the NR flag are written at listener level
        "access_log": [dict(a, filter={"response_flag_filter": {"flags": ["NR"]}})
                       for a in access_logs(p, stdout)],
        "filter_chains": chains,
    }
    clusters = [cluster(cname, [(app_ip, port)], bind="127.0.0.6")]
    return bootstrap(p, [listener], clusters)


def all_configs():
    return {
        "gateway": gateway(),
        "sleep": sleep_sidecar(),
        "httpbin": server_sidecar("httpbin"),
        "reviews": server_sidecar("reviews"),
        "ratings": server_sidecar("ratings", mode="STRICT"),
        "payments": server_sidecar("payments", server_ident="payments-otherca"),
        "ledger": server_sidecar("ledger", client_ca="certs/other-root-cert.pem"),
        "orders": server_sidecar("orders"),
        "legacy": server_sidecar("legacy", mode="DISABLE", codec="HTTP1"),
        # used only for real-mixed-proxy-output.log: access log to /dev/stdout like istio-proxy
        "notifications": server_sidecar("notifications", stdout=True),
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "configs")
    os.makedirs(out, exist_ok=True)
    for name, cfg in all_configs().items():
        pod = PODS[name][0]
        header = ("# Generated by tools/real-envoy/gen_configs.py -- edit that script, not this file.\n"
                  "# Proxy: %s (pod %s, pod IP %s)\n" % (name, pod, PODS[name][1]))
        with open(os.path.join(out, name + ".yaml"), "w") as f:
            f.write(header + to_yaml(cfg))
    # pod metadata for the post-processor
    with open(os.path.join(out, "pods.json"), "w") as f:
        json.dump({k: {"pod": v[0], "ip": v[1], "app_ip": v[2], "port": v[3], "namespace": v[4]}
                   for k, v in PODS.items()}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
