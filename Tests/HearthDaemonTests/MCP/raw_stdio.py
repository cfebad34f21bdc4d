"""Speaks MCP's stdio framing by hand to `hearth mcp serve`, with lines no SDK would send.

    raw_stdio.py HEARTH [ARGS...]

Sends initialize, a request larger than the server reads, a line that is not JSON, then a
request that must still be answered; prints every line the server wrote until that answer, as a
JSON array.
"""

import json
import subprocess
import sys

server = subprocess.Popen(sys.argv[1:] + [], stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def send(raw: bytes) -> None:
    server.stdin.write(raw + b"\n")
    server.stdin.flush()


def message(value) -> bytes:
    return json.dumps(value).encode()


seen = []
send(message({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}))
seen.append(json.loads(server.stdout.readline()))
send(message({"jsonrpc": "2.0", "method": "notifications/initialized"}))
# Five megabytes in one line: more than the server reads.
send(b'{"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"pad": "' + b"x" * (5 << 20) + b'"}}')
send(b"{this is not json")
send(message({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}))
while True:
    line = server.stdout.readline()
    if not line:
        break
    answer = json.loads(line)
    seen.append(answer)
    if answer.get("id") == 3:
        break
server.stdin.close()
server.wait(timeout=30)
print(json.dumps(seen))
