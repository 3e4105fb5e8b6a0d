"""Recording TCP proxy between Kafka clients and the broker, for golden request fixtures.

    record_proxy.py --listen-port P --upstream 127.0.0.1:BPORT --dir DIR [--responses]

Every request frame a client sends is forwarded unchanged and also written to
`DIR/<api_key>-<api_version>-<n>.bin`: the exact bytes from the wire, the 4-byte big-endian size
prefix included, `n` counting from 0 per (api_key, api_version). With --responses each
response is written beside its request as `<api_key>-<api_version>-<n>.response.bin` (the bytes
the broker sent, before any rewrite). `DIR/index.tsv` lists every frame in arrival order:
sequence, api_key, api_version, correlation_id, client_id, file.

So that clients keep talking through the proxy after bootstrap, the broker address in Metadata,
FindCoordinator and DescribeCluster responses is rewritten: the encoded host `127.0.0.1`
followed by the big-endian int32 upstream port becomes the same host followed by the proxy's
port. Host and port lengths do not change, so neither does any frame length. This assumes the
broker advertises `127.0.0.1:<its port>`; when a Metadata response does not contain it, a
warning goes to stderr (clients would then bypass the proxy).

runner.py starts one proxy per client with `run.sh --record DIR`.
"""

import argparse
import asyncio
import os
import signal
import struct
import sys

FRAME_BYTES_MAX = 100 * 1024 * 1024  # Kafka's socket.request.max.bytes default
PENDING_COUNT_MAX = 100_000  # correlation ids awaiting a response, per connection
HOST = b"127.0.0.1"
API_METADATA = 3
API_FIND_COORDINATOR = 10
API_DESCRIBE_CLUSTER = 60
REWRITTEN_APIS = (API_METADATA, API_FIND_COORDINATOR, API_DESCRIBE_CLUSTER)


class Recorder:
    """Names and writes the recorded frames; one per proxy process (one client)."""

    def __init__(self, out_dir, responses):
        self.dir = out_dir
        self.responses = responses
        self.counts = {}
        self.seq = 0
        os.makedirs(out_dir, exist_ok=True)
        self.index = open(os.path.join(out_dir, "index.tsv"), "a", buffering=1)
        if self.index.tell() == 0:
            self.index.write("seq\tapi_key\tapi_version\tcorrelation_id\tclient_id\tfile\n")

    def request(self, frame):
        """Writes a request frame (size prefix included). Returns (api_key, version, corr,
        stem) or None when the frame is too short to carry a request header."""
        body = memoryview(frame)[4:]
        if len(body) < 8:
            return None
        api_key, api_version, corr = struct.unpack_from(">hhi", body, 0)
        client_id = ""
        if len(body) >= 10:
            (n,) = struct.unpack_from(">h", body, 8)
            if 0 <= n <= len(body) - 10:
                client_id = bytes(body[10:10 + n]).decode("utf-8", "replace")
        k = (api_key, api_version)
        n = self.counts.get(k, 0)
        self.counts[k] = n + 1
        stem = "%d-%d-%d" % (api_key, api_version, n)
        with open(os.path.join(self.dir, stem + ".bin"), "wb") as f:
            f.write(frame)
        self.index.write("%d\t%d\t%d\t%d\t%s\t%s\n" % (
            self.seq, api_key, api_version, corr, client_id.replace("\t", " "), stem + ".bin"))
        self.seq += 1
        return api_key, api_version, corr, stem

    def response(self, stem, frame):
        if self.responses:
            with open(os.path.join(self.dir, stem + ".response.bin"), "wb") as f:
                f.write(frame)


async def read_frame(reader):
    """One size-prefixed frame, prefix included; None at a clean end of stream."""
    try:
        head = await reader.readexactly(4)
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise ConnectionError("stream ended inside a frame size prefix")
        return None
    (size,) = struct.unpack(">i", head)
    if size < 0 or size > FRAME_BYTES_MAX:
        raise ConnectionError("frame size %d outside 0..%d" % (size, FRAME_BYTES_MAX))
    return head + await reader.readexactly(size)


class Proxy:
    def __init__(self, listen_port, upstream_host, upstream_port, recorder):
        self.listen_port = listen_port
        self.upstream = (upstream_host, upstream_port)
        self.recorder = recorder
        self.old_addr = HOST + struct.pack(">i", upstream_port)
        self.new_addr = HOST + struct.pack(">i", listen_port)
        self.warned = False

    async def handle(self, c_reader, c_writer):
        try:
            b_reader, b_writer = await asyncio.open_connection(*self.upstream)
        except OSError as e:
            print("record_proxy: upstream %s:%d: %s" % (self.upstream + (e,)), file=sys.stderr)
            c_writer.close()
            return
        pending = {}
        tasks = [asyncio.create_task(self.client_to_broker(c_reader, b_writer, pending)),
                 asyncio.create_task(self.broker_to_client(b_reader, c_writer, pending))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # the proxy is shutting down
        finally:
            for t in tasks:
                t.cancel()
            for w in (c_writer, b_writer):
                w.close()

    async def client_to_broker(self, reader, writer, pending):
        try:
            while True:
                frame = await read_frame(reader)
                if frame is None:
                    return
                meta = self.recorder.request(frame)
                if meta is not None:
                    if len(pending) >= PENDING_COUNT_MAX:
                        pending.clear()  # e.g. acks=0 produce: no responses will come
                    pending[meta[2]] = meta
                writer.write(frame)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            print("record_proxy: client connection: %s" % e, file=sys.stderr)

    async def broker_to_client(self, reader, writer, pending):
        try:
            while True:
                frame = await read_frame(reader)
                if frame is None:
                    return
                if len(frame) >= 8:
                    (corr,) = struct.unpack_from(">i", frame, 4)
                    meta = pending.pop(corr, None)
                    if meta is not None:
                        api_key, _, _, stem = meta
                        self.recorder.response(stem, frame)
                        if api_key in REWRITTEN_APIS:
                            frame = self.rewrite(api_key, frame)
                writer.write(frame)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            print("record_proxy: broker connection: %s" % e, file=sys.stderr)

    def rewrite(self, api_key, frame):
        if self.old_addr in frame:
            return frame.replace(self.old_addr, self.new_addr)
        if api_key == API_METADATA and not self.warned:
            self.warned = True
            print("record_proxy: a Metadata response does not advertise 127.0.0.1:%d; clients "
                  "may bypass the proxy" % self.upstream[1], file=sys.stderr)
        return frame


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen-port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the broker")
    ap.add_argument("--dir", required=True, help="where the frames are written")
    ap.add_argument("--responses", action="store_true", help="also write response frames")
    args = ap.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    proxy = Proxy(args.listen_port, host, int(port), Recorder(args.dir, args.responses))
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", args.listen_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
