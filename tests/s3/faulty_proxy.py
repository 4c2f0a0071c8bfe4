#!/usr/bin/python3
"""A proxy in front of an S3 store that fails some requests, for decant's tests: every
--fail-every-th request (of --only-method, if given) gets a 500, every --drop-every-th
loses its connection, neither passed on; with --expired-token every request is answered
as S3 answers an expired session token. The rest go to the upstream unchanged (same Host,
same signature). It counts what it failed in COUNT_FILE.

usage: faulty_proxy.py PORT UPSTREAM_HOST:PORT COUNT_FILE [--fail-every N] [--drop-every N]
       [--only-method M] [--expired-token]
"""
import argparse
import http.client
import http.server
import sys
import threading

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("upstream")
parser.add_argument("count_file")
parser.add_argument("--fail-every", type=int, default=0)
parser.add_argument("--drop-every", type=int, default=0)
parser.add_argument("--only-method", default="")
parser.add_argument("--expired-token", action="store_true")
options = parser.parse_args()
upstream, count_file = options.upstream, options.count_file
lock = threading.Lock()
state = {"n": 0, "failed": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def relay(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        if options.expired_token:
            return self.answer(400, "ExpiredToken", "The provided token has expired.")
        counted = not options.only_method or self.command == options.only_method
        with lock:
            state["n"] += 1 if counted else 0
            n = state["n"]
            fail = counted and options.fail_every and n % options.fail_every == 0
            drop = counted and options.drop_every and n % options.drop_every == 0
            if fail or drop:
                state["failed"] += 1
                with open(count_file, "w") as f:
                    f.write(str(state["failed"]))
        if drop:
            self.close_connection = True
            self.connection.close()
            return
        if fail:
            return self.answer(500, "InternalError", "injected by the test proxy")
        conn = http.client.HTTPConnection(upstream, timeout=120)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response_only(resp.status, resp.reason)
        for name, value in resp.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        # A HEAD's length is the object's, not of the (empty) body.
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length if length is not None else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    def answer(self, status, code, message):
        payload = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay


server = http.server.ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
print("proxy listening", flush=True)
server.serve_forever()
