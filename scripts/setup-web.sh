#!/usr/bin/env bash
# setup-web.sh: what the web tests need: headless Chromium with its WebDriver (Debian packages)
# and the Python `mcp` client (PyPI, into a venv under ${AKASHIC_CACHE:-$HOME/.cache/akashic}).
# Each part that cannot be installed is said in one line; the tests that need it then skip.
# Idempotent: what is already there is not installed again.
set -uo pipefail

CACHE="${AKASHIC_CACHE:-$HOME/.cache/akashic}"
VENV="$CACHE/mcp-venv"
MCP_VERSION="1.23.1"
PY="${PYTHON:-python3}"

log() { printf 'setup-web: %s\n' "$*" >&2; }

# --- Chromium and chromedriver (Debian: chromium, chromium-driver)
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    log "chromium and chromedriver already installed"
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing chromium and chromium-driver with apt-get"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }; then
        log "could not install chromium; the browser test will skip"
    fi
else
    log "no chromium and no apt-get as root to install it; the browser test will skip"
fi

# --- the Python MCP client
mcp_ok() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import mcp.client.stdio' >/dev/null 2>&1; }
if mcp_ok; then
    log "python mcp client already in $VENV"
else
    mkdir -p "$CACHE"
    if { [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"; } \
        && "$VENV/bin/python" -m pip install -q "mcp==$MCP_VERSION" && mcp_ok; then
        log "installed python mcp $MCP_VERSION into $VENV"
    else
        log "could not install the python mcp client into $VENV; the MCP client test will skip"
    fi
fi
exit 0
