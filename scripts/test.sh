#!/usr/bin/env bash
# The test command: installs what the tests need (model files, local LLM server, chromium, the
# python MCP client), then runs every test.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

log() { printf '[test] %s\n' "$*" >&2; }

# Rust toolchain (cargo) is expected; everything else is installed here.
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found: it is needed for setup and the forensics tests" >&2; exit 1; }

log "embedding model and onnxruntime"
bash scripts/setup-models.sh

log "web tests: headless chromium and its driver (apt), the python mcp client (PyPI)"
bash scripts/setup-web.sh

log "local LLM server (llama-cpp-python, SmolLM2-135M)"
bash scripts/setup-llm.sh

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
server_pid="$(bash scripts/llm-server.sh "$port")"
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
export AKASHIC_TEST_LLM_URL="http://127.0.0.1:${port}/v1"
log "LLM server pid $server_pid at $AKASHIC_TEST_LLM_URL"

log "cargo test (unit and integration, including the real-model tests)"
cargo test --lib --bins -- --include-ignored
# The integration tests run real daemons and measure their timing and memory (fault injection,
# floods, fleets): one at a time, so one test's load is never another's failure.
cargo test --test it -- --include-ignored --test-threads 1
