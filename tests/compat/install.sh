#!/usr/bin/env bash
# Installs everything the real-client compatibility suite needs, idempotently:
#   - Debian packages: kcat, and python3-venv / nodejs / npm when missing;
#   - tests/compat/.venv with the Python clients pinned in requirements.txt;
#   - tests/compat/node_modules from package-lock.json (npm ci), with
#     @confluentinc/kafka-javascript built from its sources.
# Work already done is skipped: the venv and node_modules carry a stamp holding the hash of the
# file they were installed from, and Debian packages are only installed when their command is
# missing. Works on a fresh Debian 12 as root with only the PyPI, npm and Debian registries.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

python="${WEIR_COMPAT_PYTHON:-python3}"
venv="$here/.venv"
venv_stamp="$venv/.weir-compat-stamp"
node_stamp="$here/node_modules/.weir-compat-stamp"

log() { echo "compat-install: $*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
debs=()
command -v kcat >/dev/null 2>&1 || debs+=(kcat)
command -v "$python" >/dev/null 2>&1 || debs+=(python3)
if ! command -v "$python" >/dev/null 2>&1 || ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    debs+=(python3-venv)
fi
command -v node >/dev/null 2>&1 || debs+=(nodejs)
command -v npm >/dev/null 2>&1 || debs+=(npm)
# @confluentinc/kafka-javascript is built from its sources (below): a C/C++ toolchain, Node's
# headers, and librdkafka's dependencies as Debian libraries.
command -v g++ >/dev/null 2>&1 || debs+=(g++)
command -v make >/dev/null 2>&1 || debs+=(make)
command -v pkg-config >/dev/null 2>&1 || debs+=(pkg-config)
[[ -f /usr/include/node/node.h ]] || debs+=(libnode-dev)
for dev in zlib1g-dev libssl-dev libzstd-dev liblz4-dev libcurl4-openssl-dev libsasl2-dev; do
    dpkg-query -W -f='${Status}' "$dev" 2>/dev/null | grep -q "ok installed" || debs+=("$dev")
done
if ((${#debs[@]} > 0)); then
    if [[ $(id -u) -ne 0 ]]; then
        log "missing Debian packages (${debs[*]}) and not root; install them and rerun"
        exit 1
    fi
    log "installing Debian packages: ${debs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${debs[@]}"
fi

# --- Python venv -----------------------------------------------------------------------------
py_want="$(sha256sum requirements.txt | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version.split()[0])')"
if [[ -x "$venv/bin/python" && -f "$venv_stamp" && "$(cat "$venv_stamp")" == "$py_want" ]]; then
    log "venv up to date"
else
    log "creating $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # --no-deps: requirements.txt pins the complete dependency closure itself.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements.txt
    "$venv/bin/python" -m pip check
    echo "$py_want" >"$venv_stamp"
fi

# --- kcat on librdkafka 2.16 ------------------------------------------------------------------
# A second kcat: Debian's binary, run against the librdkafka the confluent-kafka wheel bundles
# (test_kcat.sh sets LD_LIBRARY_PATH to this folder when WEIR_KCAT_LIBRDKAFKA names it).
# librdkafka keeps its ABI within soname librdkafka.so.1, so kcat 1.7.1 runs on 2.16 unchanged.
wheel_rdkafka=("$venv"/lib/python3*/site-packages/confluent_kafka.libs/librdkafka-*.so.1)
if [[ ! -f "${wheel_rdkafka[0]}" ]]; then
    log "the confluent-kafka wheel has no bundled librdkafka"
    exit 1
fi
mkdir -p "$here/.librdkafka-wheel"
ln -sfn "${wheel_rdkafka[0]}" "$here/.librdkafka-wheel/librdkafka.so.1"

# --- node_modules ----------------------------------------------------------------------------
node_want="$(sha256sum package-lock.json | cut -d' ' -f1) $(node --version)"
ckjs_binary="$here/node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node"
if [[ -f "$node_stamp" && "$(cat "$node_stamp")" == "$node_want" && -f "$ckjs_binary" ]]; then
    log "node_modules up to date"
else
    log "npm ci"
    # --ignore-scripts: no package runs its own install script (the kafkajs codecs are pure
    # JS/wasm); the one native package is built just below.
    npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
    # @confluentinc/kafka-javascript: its install script would download a prebuilt binary
    # (outside the npm registry), and its static build its dependencies' sources. Built from
    # the package's own sources instead, linked against the Debian libraries above, with
    # Debian's Node headers (about 2 minutes on 2 cores).
    log "building @confluentinc/kafka-javascript from source"
    CKJS_LINKING=dynamic npm rebuild @confluentinc/kafka-javascript --build-from-source \
        --nodedir=/usr --loglevel=error >"$here/.ckjs-build.log" 2>&1 || {
        tail -40 "$here/.ckjs-build.log" >&2
        log "building @confluentinc/kafka-javascript failed (log: $here/.ckjs-build.log)"
        exit 1
    }
    echo "$node_want" >"$node_stamp"
fi

# --- report what is installed ----------------------------------------------------------------
"$venv/bin/python" - <<'EOF' >&2
import aiokafka, confluent_kafka, kafka
print("compat-install: confluent-kafka %s (librdkafka %s), kafka-python %s, aiokafka %s" % (
    confluent_kafka.__version__, confluent_kafka.libversion()[0], kafka.__version__,
    aiokafka.__version__))
EOF
log "kafkajs $(node -p 'require("kafkajs/package.json").version'), node $(node --version)"
log "@confluentinc/kafka-javascript $(node -p 'require("@confluentinc/kafka-javascript/package.json").version') (librdkafka $(node -p 'require("@confluentinc/kafka-javascript").librdkafkaVersion'))"
log "kcat $(kcat -V 2>&1 | grep -m1 "^Version")"
log "kcat on the wheel's librdkafka: $(LD_LIBRARY_PATH="$here/.librdkafka-wheel" kcat -V 2>&1 | grep -m1 "^Version")"
