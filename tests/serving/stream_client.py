"""Reads a streamed response and prints when each piece arrived.

Usage: stream_client.py URL TOKEN. Prints one line per server-sent event:
"<seconds since the request> <event>", then "done <total seconds>".
"""
import http.client
import sys
import time
import urllib.parse

url = urllib.parse.urlparse(sys.argv[1])
connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
start = time.time()
connection.request("GET", url.path + ("?" + url.query if url.query else ""),
                   headers={"Authorization": "Bearer " + sys.argv[2]})
response = connection.getresponse()
if response.status != 200:
    print("status", response.status, response.read().decode())
    sys.exit(1)
while True:
    line = response.fp.readline()  # the chunks as they come
    if not line:
        break
    line = line.decode().strip()
    if line == "0":  # the last chunk (the connection stays open)
        break
    if line.startswith("data:"):
        print("%.3f %s" % (time.time() - start, line[5:].strip()), flush=True)
print("done %.3f" % (time.time() - start))
