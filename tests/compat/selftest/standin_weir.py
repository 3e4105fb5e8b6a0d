#!/usr/bin/env python3
"""A stand-in for `weir serve`, used only by selftest.sh to exercise runner.py's process
handling (start, wait for the port, restart on the same port and data dir, stop by PID).

It is not a broker: it greets every connection with one line `standin start=N pid=P` (N counts
the starts recorded in the data dir) and closes it. SIGTERM ends it with status 0.
"""

import argparse
import os
import signal
import socket
import sys

ap = argparse.ArgumentParser()
ap.add_argument("command", choices=["serve"])
ap.add_argument("--listen", required=True)
ap.add_argument("--data-dir", required=True)
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
        conn.sendall(b"standin start=%d pid=%d\n" % (starts, os.getpid()))
