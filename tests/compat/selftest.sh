#!/usr/bin/env bash
# Self-test of runner.py's process handling, without weir and without the Kafka clients: a
# stand-in broker (selftest/standin_weir.py) and a stand-in scenario (selftest/standin_client.py)
# check start, wait-for-port, restart on the same port and data dir, stop by PID with status 0,
# a phase that hangs (killed after --phase-timeout-s) and a phase that fails (counted).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
set +e
python3 "$here/runner.py" --weir "$here/selftest/standin_weir.py" --only standin \
    --client "standin=python3 $here/selftest/standin_client.py" --phase-timeout-s 3 >"$out" 2>&1
code=$?
set -e
cat "$out"
fail() { echo "selftest: FAILED: $*" >&2; exit 1; }
((code == 1)) || fail "runner exit status $code, expected 1"
[[ "$(tail -n1 "$out")" == "compat: 11 passed, 2 failed" ]] || fail "wrong closing line"
grep -q '^PASS broker start ' "$out" || fail "broker start"
grep -q '^PASS standin restart-broker ' "$out" || fail "restart"
grep -q '^PASS standin consume ' "$out" || fail "consume after restart"
grep -q '^PASS broker clean shutdown ' "$out" || fail "clean shutdown"
grep -q '^FAIL standin codec-lz4 .*timed out after 3s' "$out" || fail "hung phase not killed"
grep -q '^FAIL standin codec-zstd .*exit status 1' "$out" || fail "failed phase not counted"
grep -q 'deliberate failure of codec-zstd' "$out" || fail "failed phase output not shown"
grep -q 'standin start=2 listening' "$out" || fail "broker log tail not shown"
work="$(sed -n 's/^compat: work dir kept at //p' "$out")"
[[ -n "$work" && -d "$work" ]] || fail "work dir not kept after a failure"
[[ "$(cat "$work/data/standin-starts")" == 2 ]] || fail "expected 2 broker starts"
rm -rf "$work"
echo "selftest: runner process handling OK"

# The same through the recording proxy (--record): every phase's request lands on disk.
rec="$(mktemp -d)"
set +e
python3 "$here/runner.py" --weir "$here/selftest/standin_weir.py" --only standin --record "$rec" \
    --client "standin=python3 $here/selftest/standin_client.py" --phase-timeout-s 3 >"$out" 2>&1
code=$?
set -e
((code == 1)) || { cat "$out"; fail "--record: runner exit status $code, expected 1"; }
[[ "$(tail -n1 "$out")" == "compat: 11 passed, 2 failed" ]] || { cat "$out"; fail "--record: wrong closing line"; }
n="$(ls "$rec/standin" | grep -c '^18-0-[0-9]*\.bin$')"
((n == 10)) || fail "--record: expected 10 recorded ApiVersions requests, found $n"
rm -rf "$rec" "$(sed -n 's/^compat: work dir kept at //p' "$out")"
echo "selftest: --record OK"

# The suite deadline: once it has passed, no phase starts and the rest count as failed.
set +e
python3 "$here/runner.py" --weir "$here/selftest/standin_weir.py" --only standin --suite-deadline-s 0 \
    --client "standin=python3 $here/selftest/standin_client.py" >"$out" 2>&1
code=$?
set -e
((code == 1)) || { cat "$out"; fail "deadline: runner exit status $code, expected 1"; }
[[ "$(tail -n1 "$out")" == "compat: 2 passed, 11 failed" ]] || { cat "$out"; fail "deadline: wrong closing line"; }
[[ "$(grep -c 'not run: suite deadline of 0s passed' "$out")" == 11 ]] || { cat "$out"; fail "deadline: steps ran"; }
rm -rf "$(sed -n 's/^compat: work dir kept at //p' "$out")"
echo "selftest: suite deadline OK"

# A custom step list with a crash (SIGKILL) restart; an all-green run exits 0 and cleans up.
set +e
python3 "$here/runner.py" --weir "$here/selftest/standin_weir.py" --only standin \
    --steps create,produce,kill-broker,consume \
    --client "standin=python3 $here/selftest/standin_client.py" >"$out" 2>&1
code=$?
set -e
((code == 0)) || { cat "$out"; fail "kill-broker: runner exit status $code, expected 0"; }
[[ "$(tail -n1 "$out")" == "compat: 6 passed, 0 failed" ]] || { cat "$out"; fail "kill-broker: wrong closing line"; }
grep -q '^PASS standin kill-broker ' "$out" || fail "kill-broker step"
work="$(sed -n 's/^compat: broker .* logs in //p' "$out")"
[[ -n "$work" && ! -e "$work" ]] || fail "work dir $work not removed after a green run"
echo "selftest: kill-broker and clean green run OK"

# kafkajs's codec adapters must produce standard frames: decode them with the Python codecs.
codec_dir="$(mktemp -d)"
trap 'rm -f "$out"; rm -rf "$codec_dir"' EXIT
[[ -d "$here/node_modules" && -x "$here/.venv/bin/python" ]] || bash "$here/install.sh"
node "$here/selftest/kafkajs_codecs.js" "$codec_dir" || fail "kafkajs codec round trip"
"$here/.venv/bin/python" - "$codec_dir" <<'PY' || fail "kafkajs codec frames"
import gzip, os, sys
import cramjam, lz4.frame, zstandard
d = sys.argv[1]
data = b"weir compat codec self-check " * 300
read = lambda n: open(os.path.join(d, n + ".bin"), "rb").read()
assert gzip.decompress(read("gzip")) == data, "gzip"
assert bytes(cramjam.snappy.decompress_raw(read("snappy"))) == data, "snappy"
assert lz4.frame.decompress(read("lz4")) == data, "lz4"
assert zstandard.ZstdDecompressor().decompress(read("zstd")) == data, "zstd"
PY
echo "selftest: kafkajs codec adapters OK"

# The recording proxy: exact request bytes on disk, broker address rewritten in Metadata.
python3 "$here/selftest/proxy_check.py" || fail "record proxy"
