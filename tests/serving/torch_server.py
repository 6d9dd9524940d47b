"""A tiny PyTorch model served over HTTP for the serving tests.

The model is built here (torch.manual_seed(0), a 4-8-1 MLP): no weights are
downloaded. Listens on $PORT: GET /health, POST /predict {"x": [4 floats]}
-> {"y": float}. `torch_server.py --predict A B C D` prints the prediction
the server would give, for the test to compare.
"""
import http.server
import json
import os
import socketserver
import sys

import torch

torch.manual_seed(0)
MODEL = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
MODEL.eval()


def predict(values):
    with torch.no_grad():
        return round(float(MODEL(torch.tensor([values], dtype=torch.float32))[0, 0]), 6)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply(200 if self.path == "/health" else 404, {"ready": True})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        values = body.get("x", [])
        if len(values) != 4:
            self.reply(400, {"error": "x: give 4 numbers"})
            return
        self.reply(200, {"y": predict([float(v) for v in values])})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--predict":
        print(json.dumps(predict([float(v) for v in sys.argv[2:]])))
        sys.exit(0)
    Server(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
