#!/usr/bin/env python3
"""Tiny loopback "application containers" for the real-Envoy sample generator.

One process runs every backend as a thread.  Each backend is given on the
command line as MODE:IP:PORT, e.g. ``http:127.0.0.31:8080``.

Modes
  http     httpbin-like HTTP/1.1 app (keep-alive).  Paths:
             .../status/<code>  answer <code>
             .../delay/<secs>   sleep <secs> (float, max 60) then 200
             .../bytes/<n>      n bytes of body
             POST .../orders... 201
             anything else      200 with a small JSON body
           Request headers (set by traffic.py, never logged by the format):
             x-sim-latency-ms: N   add N ms of server time (realistic, seeded latencies)
             x-sim-fault: close    read the request, close without answering (FIN)
             x-sim-fault: rst      read the request, abort the socket (TCP RST)
             x-sim-fault: truncate send headers + part of the body, then close
             x-sim-fault: garbage  answer with bytes that are not HTTP at all
  h2rst    minimal HTTP/2 (h2c prior knowledge) server that answers every
           HEADERS frame with RST_STREAM(INTERNAL_ERROR)
  h2refuse same, RST_STREAM(REFUSED_STREAM)
  echo     TCP echo server (a stand-in for a database)
  blackhole  listening socket whose accept queue is full and never drained:
           the kernel drops further SYNs, so connecting times out (no RST),
           like an endpoint behind a firewall that drops packets

Stdlib only.  Stops on SIGTERM/SIGINT.
"""
import json
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class App(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gunicorn"  # what the app says in `server:`; Envoy rewrites it anyway
    sys_version = ""

    def log_message(self, *args):  # keep quiet
        pass

    def _drain_body(self):
        n = int(self.headers.get("content-length") or 0)
        if n:
            self.rfile.read(n)

    def _send(self, code, body, ctype="application/json"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _abort(self, rst):
        try:
            if rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (OSError, ValueError):
            self.close_connection = True

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    def _handle(self):
        self._drain_body()
        lat = self.headers.get("x-sim-latency-ms")
        if lat:
            time.sleep(min(float(lat), 60000.0) / 1000.0)
        fault = self.headers.get("x-sim-fault", "")
        if fault == "close":
            return self._abort(rst=False)
        if fault == "rst":
            return self._abort(rst=True)
        if fault == "garbage":
            self.wfile.write(b"EXPORT-V1 rows=1842 format=csv\nid,sku,qty\n1,A-100,4\n")
            self.wfile.flush()
            return self._abort(rst=False)
        if fault == "truncate":
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "4096")
            self.end_headers()
            self.wfile.write(b'{"items":[' + b'{"id":1},' * 40)
            self.wfile.flush()
            return self._abort(rst=False)
        path = self.path.split("?", 1)[0]
        parts = [p for p in path.split("/") if p]
        if "delay" in parts[:-1]:
            try:
                time.sleep(min(float(parts[parts.index("delay") + 1]), 60.0))
            except ValueError:
                pass
        if "status" in parts[:-1] and parts[parts.index("status") + 1].isdigit():
            code = int(parts[parts.index("status") + 1])
            return self._send(code, "" if code in (204, 304) else json.dumps({"status": code}) + "\n")
        if "bytes" in parts[:-1] and parts[parts.index("bytes") + 1].isdigit():
            return self._send(200, b"x" * min(int(parts[parts.index("bytes") + 1]), 1 << 20),
                              "application/octet-stream")
        if self.command == "POST" and "orders" in parts:
            return self._send(201, json.dumps({"id": 8812, "status": "created"}) + "\n")
        body = {
            "args": {},
            "headers": {k: v for k, v in self.headers.items() if not k.lower().startswith("x-sim")},
            "method": self.command,
            "origin": self.client_address[0],
            "url": "http://%s%s" % (self.headers.get("host", "-"), path),
        }
        self._send(200, json.dumps(body, indent=2) + "\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


# ---- minimal HTTP/2 server that resets every stream -------------------------
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError
        buf += chunk
    return buf


class H2ResetHandler(socketserver.BaseRequestHandler):
    error_code = 2  # INTERNAL_ERROR

    def handle(self):
        s = self.request
        try:
            if recv_exact(s, len(H2_PREFACE)) != H2_PREFACE:
                return
            s.sendall(h2_frame(4, 0, 0))  # our SETTINGS
            while True:
                hdr = recv_exact(s, 9)
                length = int.from_bytes(hdr[0:3], "big")
                ftype, flags = hdr[3], hdr[4]
                stream = int.from_bytes(hdr[5:9], "big") & 0x7FFFFFFF
                if length:
                    recv_exact(s, length)
                if ftype == 4 and not flags & 1:
                    s.sendall(h2_frame(4, 1, 0))  # SETTINGS ACK
                elif ftype == 6 and not flags & 1:
                    s.sendall(h2_frame(6, 1, 0, b"\0" * 8))
                elif ftype == 1:  # HEADERS -> reset the stream
                    time.sleep(0.002)
                    s.sendall(h2_frame(3, 0, stream, struct.pack(">I", self.error_code)))
                elif ftype == 7:
                    return
        except (ConnectionError, OSError):
            return


class H2RefuseHandler(H2ResetHandler):
    error_code = 7  # REFUSED_STREAM


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                data = self.request.recv(65536)
                if not data:
                    return
                self.request.sendall(data)
        except OSError:
            return


class TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv):
    servers = []
    blackholes = []
    for spec in argv:
        mode, ip, port = spec.split(":")
        addr = (ip, int(port))
        if mode == "http":
            srv = Server(addr, App)
        elif mode == "h2rst":
            srv = TCPServer(addr, H2ResetHandler)
        elif mode == "h2refuse":
            srv = TCPServer(addr, H2RefuseHandler)
        elif mode == "echo":
            srv = TCPServer(addr, EchoHandler)
        elif mode == "blackhole":
            lsock = socket.socket()
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind(addr)
            lsock.listen(0)
            for _ in range(3):  # fill the accept queue; never accept()
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex(addr)
                blackholes.append(c)
            blackholes.append(lsock)
            continue
        else:
            raise SystemExit("unknown mode " + mode)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    print("backends listening: " + " ".join(argv), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    for srv in servers:
        srv.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
