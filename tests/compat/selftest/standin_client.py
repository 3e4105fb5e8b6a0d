#!/usr/bin/env python3
"""A stand-in client scenario for selftest.sh: checks that the runner hands it a live broker,
the first broker before the restart and the restarted one (same port, same data dir) after it.
`codec-lz4` hangs (the runner must kill it) and `codec-zstd` fails (the runner must count it).
"""

import argparse
import json
import socket
import struct
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("phase")
ap.add_argument("--bootstrap", required=True)
ap.add_argument("--prefix", required=True)
ap.add_argument("--state", required=True)
args = ap.parse_args()

host, port = args.bootstrap.rsplit(":", 1)
# One ApiVersions v0 request frame (so that a recording proxy has something to record).
body = struct.pack(">hhih", 18, 0, 42, 7) + b"standin"
with socket.create_connection((host, int(port)), timeout=5) as s:
    s.sendall(struct.pack(">i", len(body)) + body)
    f = s.makefile("rb")
    resp = f.read(struct.unpack(">i", f.read(4))[0])
assert resp[:4] == struct.pack(">i", 42), resp
greeting = resp[4:].decode().split()
fields = dict(f.split("=", 1) for f in greeting[1:])
start, pid = int(fields["start"]), int(fields["pid"])

if args.phase == "create":
    assert start == 1, greeting
elif args.phase == "produce":
    with open(args.state, "w") as f:
        json.dump({"pid": pid}, f)
elif args.phase == "codec-lz4":
    time.sleep(3600)
elif args.phase == "codec-zstd":
    print("deliberate failure of %s" % args.phase, file=sys.stderr)
    sys.exit(1)
else:
    with open(args.state) as f:
        before = json.load(f)["pid"]
    assert start == 2, "expected the restarted broker, got %r" % greeting
    assert pid != before, "the broker was not restarted (pid %d)" % pid
print("ok %s (%s)" % (args.phase, " ".join(greeting)))
