"""Runs code in a Jupyter kernel through allot's gateway, as a notebook does:
a kernel from the REST API, then an execute_request over the kernel's
WebSocket (both through /workspaces/<project>/<name>/). Prints the code's
output. Usage: kernel_client.py BASE_URL TOKEN CODE (Debian's python3,
with tornado from jupyter-notebook)."""
import json
import sys
import uuid

from tornado import httpclient, ioloop, websocket


async def main(base, token, code):
    headers = {"Authorization": "Bearer " + token}
    http = httpclient.AsyncHTTPClient()
    reply = await http.fetch(base + "api/kernels", method="POST", body="{}", headers=headers)
    kernel = json.loads(reply.body)["id"]
    url = base.replace("http://", "ws://") + "api/kernels/" + kernel + "/channels"
    socket = await websocket.websocket_connect(httpclient.HTTPRequest(url, headers=headers))
    msg_id = uuid.uuid4().hex
    socket.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False}}))
    output = ""
    while True:
        message = await socket.read_message()
        if message is None:
            raise SystemExit("the kernel's WebSocket closed")
        message = json.loads(message)
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream":
            output += message["content"]["text"]
        if message["msg_type"] == "error":
            raise SystemExit("the code failed: " + message["content"]["evalue"])
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    socket.close()
    await http.fetch(base + "api/kernels/" + kernel, method="DELETE", headers=headers)
    print(output, end="")


ioloop.IOLoop.current().run_sync(lambda: main(sys.argv[1], sys.argv[2], sys.argv[3]))
