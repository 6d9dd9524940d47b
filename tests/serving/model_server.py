"""A small HTTP model server for the serving tests (docs/serving.md).

Listens on $PORT (threads, HTTP/1.1 keep-alive). Routes:
  GET  /health          200 once started (after $START_DELAY seconds), else 503
  GET  /predict?x=N&ms=M  {"y": 2N+1, "replica": ..., "version": $VERSION}, after M ms
  POST /predict         the same for a JSON body {"x": N}
  POST /echo            the body's length and sha256, read as it streams in
  GET  /stream?n=K&ms=M  K server-sent events, M ms apart, each flushed at once
"""
import hashlib
import http.server
import json
import os
import socketserver
import sys
import time
import urllib.parse

STARTED = time.time() + float(os.environ.get("START_DELAY", "0"))
REPLICA = os.environ.get("ALLOT_WORKLOAD", "local")
VERSION = os.environ.get("VERSION", "1")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, kind="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def predict(self, x, ms):
        if ms > 0:
            time.sleep(ms / 1000.0)
        self.reply(200, {"y": 2 * x + 1, "replica": REPLICA, "version": VERSION,
                         "port": os.environ.get("PORT"), "path": self.path,
                         "prefix": self.headers.get("X-Forwarded-Prefix", ""),
                         "user": self.headers.get("X-Forwarded-User", ""),
                         "gpu_memory_limit": os.environ.get("ALLOT_GPU_MEMORY_LIMIT", ""),
                         "authorization": self.headers.get("Authorization", "")})

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/health":
            ok = time.time() >= STARTED
            self.reply(200 if ok else 503, {"ready": ok})
        elif url.path == "/predict":
            self.predict(float(query.get("x", "0")), int(query.get("ms", "0")))
        elif url.path == "/stream":
            count, gap = int(query.get("n", "5")), int(query.get("ms", "200"))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(count):
                event = ("data: token %d %.3f\n\n" % (i, time.time())).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
                time.sleep(gap / 1000.0)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.reply(404, {"error": "no route " + url.path})

    def read_body(self, sink):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return
                sink(self.rfile.read(size))
                self.rfile.readline()
        left = int(self.headers.get("Content-Length", "0"))
        while left > 0:
            piece = self.rfile.read(min(left, 65536))
            if not piece:
                return
            sink(piece)
            left -= len(piece)

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/echo":
            digest, size = hashlib.sha256(), [0]

            def sink(piece):
                digest.update(piece)
                size[0] += len(piece)
            self.read_body(sink)
            self.reply(200, {"bytes": size[0], "sha256": digest.hexdigest(), "replica": REPLICA})
        elif url.path == "/predict":
            parts = []
            self.read_body(parts.append)
            body = json.loads(b"".join(parts) or b"{}")
            self.predict(float(body.get("x", 0)), int(body.get("ms", 0)))
        else:
            self.reply(404, {"error": "no route " + url.path})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024


if __name__ == "__main__":
    port = int(os.environ["PORT"])
    print("model server %s listening on %d" % (REPLICA, port), flush=True)
    Server(("127.0.0.1", port), Handler).serve_forever()
