"""Self-check of record_proxy.py, run by selftest.sh: a fake broker answers every request with
its correlation id followed by `127.0.0.1` and its own port (as a Metadata response carries
them); through the proxy, the recorded request files must equal the sent bytes exactly, the
Metadata response must come back naming the proxy's port, and a Produce response unchanged.
"""

import asyncio
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(api_key, version, corr, client_id, payload):
    body = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id + payload
    return struct.pack(">i", len(body)) + body


async def fake_broker(reader, writer, port):
    while True:
        try:
            head = await reader.readexactly(4)
        except (asyncio.IncompleteReadError, asyncio.CancelledError):
            break
        body = await reader.readexactly(struct.unpack(">i", head)[0])
        corr = body[4:8]
        resp = corr + b"\x00\x09127.0.0.1" + struct.pack(">i", port) + b"tail"
        writer.write(struct.pack(">i", len(resp)) + resp)
        await writer.drain()
    writer.close()


async def main():
    bport, pport = free_port(), free_port()
    out = tempfile.mkdtemp(prefix="weir-proxy-check-")
    server = await asyncio.start_server(lambda r, w: fake_broker(r, w, bport), "127.0.0.1", bport)
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "record_proxy.py"),
                             "--listen-port", str(pport), "--upstream", "127.0.0.1:%d" % bport,
                             "--dir", out, "--responses"], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", pport)
                break
            except OSError:
                assert time.monotonic() < deadline, "proxy did not listen"
                await asyncio.sleep(0.05)
        sent = [request(3, 12, 7, b"check", b"\x01\x02metadata"),
                request(0, 9, 8, b"check", b"produce" * 100),
                request(3, 12, 9, b"check", b"again")]
        for frame in sent:
            writer.write(frame)
        await writer.drain()
        got = []
        for _ in sent:
            head = await asyncio.wait_for(reader.readexactly(4), 10)
            got.append(await reader.readexactly(struct.unpack(">i", head)[0]))
        writer.close()
        rewritten = b"\x00\x09127.0.0.1" + struct.pack(">i", pport) + b"tail"
        original = b"\x00\x09127.0.0.1" + struct.pack(">i", bport) + b"tail"
        assert got[0] == struct.pack(">i", 7) + rewritten, got[0]
        assert got[1] == struct.pack(">i", 8) + original, got[1]
        assert got[2] == struct.pack(">i", 9) + rewritten, got[2]
        for name, frame in (("3-12-0", sent[0]), ("0-9-0", sent[1]), ("3-12-1", sent[2])):
            with open(os.path.join(out, name + ".bin"), "rb") as f:
                assert f.read() == frame, name
            with open(os.path.join(out, name + ".response.bin"), "rb") as f:
                assert f.read()[4:8] == frame[8:12], name + " response"
        with open(os.path.join(out, "index.tsv")) as f:
            rows = [ln.rstrip("\n").split("\t") for ln in f][1:]
        assert [r[1:] for r in rows] == [["3", "12", "7", "check", "3-12-0.bin"],
                                         ["0", "9", "8", "check", "0-9-0.bin"],
                                         ["3", "12", "9", "check", "3-12-1.bin"]], rows
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        server.close()
    assert proc.returncode == 0, "proxy exit status %s" % proc.returncode
    shutil.rmtree(out)
    print("proxy_check: OK")


asyncio.run(main())
