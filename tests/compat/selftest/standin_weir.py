#!/usr/bin/env python3
"""A stand-in for `weir serve`, used only by selftest.sh to exercise runner.py's process
handling (start, wait for the port, restart on the same port and data dir, stop by PID).

It is not a broker: on every connection it reads one size-prefixed request frame and answers
with one frame holding the request's correlation id and `standin start=N pid=P` (N counts the
starts recorded in the data dir), then closes it. SIGTERM ends it with status 0.
"""

import argparse
import os
import signal
import socket
import struct
import sys

ap = argparse.ArgumentParser()
ap.add_argument("command", choices=["serve"])
ap.add_argument("--listen", required=True)
ap.add_argument("--data-dir", required=True)
ap.add_argument("--set", action="append", default=[], help="KEY=VALUE, accepted and ignored")
args = ap.parse_args()

starts_path = os.path.join(args.data_dir, "standin-starts")
starts = 0
if os.path.exists(starts_path):
    with open(starts_path) as f:
        starts = int(f.read())
starts += 1
with open(starts_path, "w") as f:
    f.write(str(starts))

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
host, port = args.listen.rsplit(":", 1)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, int(port)))
srv.listen()
print("standin start=%d listening on %s" % (starts, args.listen), file=sys.stderr, flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        f = conn.makefile("rb")
        head = f.read(4)
        if len(head) < 4:
            continue
        body = f.read(struct.unpack(">i", head)[0])
        msg = body[4:8] + b"standin start=%d pid=%d" % (starts, os.getpid())
        conn.sendall(struct.pack(">i", len(msg)) + msg)
