#!/usr/bin/env bash
# llm-server.sh: start the local OpenAI-compatible test LLM (llama-cpp-python, SmolLM2-135M) in the background.
#
# Usage: scripts/llm-server.sh PORT [LOGFILE]
# Needs scripts/setup-llm.sh to have run. Listens on 127.0.0.1:PORT, model alias "local"
# (OpenAI API under /v1: /v1/models, /v1/chat/completions, /v1/completions).
# Waits until /v1/models answers (at most ${AKASHIC_LLM_TIMEOUT:-120} s), then prints the server PID
# on stdout (log lines go to stderr), so `pid=$(scripts/llm-server.sh 8765)` works; stop it with `kill $pid`.
# On failure it kills the server, prints the log tail and exits 1.
set -euo pipefail

usage() { echo "usage: $0 PORT [LOGFILE]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
PORT="$1"
case "$PORT" in '' | *[!0-9]*) usage ;; esac

CACHE="${AKASHIC_CACHE:-$HOME/.cache/akashic}"
VENV="$CACHE/llm-venv"
MODEL="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
LOG="${2:-$CACHE/llm-server-$PORT.log}"
TIMEOUT="${AKASHIC_LLM_TIMEOUT:-120}"

log() { printf 'llm-server: %s\n' "$*" >&2; }
die() { printf 'llm-server: error: %s\n' "$*" >&2; exit 1; }

[ -x "$VENV/bin/python" ] || die "no venv at $VENV: run scripts/setup-llm.sh first"
[ -f "$MODEL" ] || die "no model at $MODEL: run scripts/setup-llm.sh first"
mkdir -p "$(dirname "$LOG")"

# Refuse a port that already has a listener: uvicorn could share it, and the poll below would
# then be answered by the old server.
"$VENV/bin/python" - "$PORT" <<'EOF' || die "port $PORT on 127.0.0.1 is already in use"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers, not listeners
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(1)
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF

nohup "$VENV/bin/python" -m llama_cpp.server \
    --model "$MODEL" --host 127.0.0.1 --port "$PORT" --n_threads 1 --model_alias local \
    </dev/null >"$LOG" 2>&1 &
PID=$!

# Poll /v1/models until it answers 200, the process dies, or the timeout passes.
if "$VENV/bin/python" - "$PORT" "$PID" "$TIMEOUT" <<'EOF'
import os, sys, time, urllib.request
port, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
url = "http://127.0.0.1:%s/v1/models" % port
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(3)  # server exited
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                os.kill(pid, 0)  # make sure it is our process that answered
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.25)
sys.exit(4)  # timeout
EOF
then
    log "up on http://127.0.0.1:$PORT/v1 (model alias: local), pid $PID, log $LOG"
    echo "$PID"
    exit 0
else
    rc=$?
    kill "$PID" 2>/dev/null || true
    if [ "$rc" = 3 ]; then
        log "server process $PID exited before answering; log tail ($LOG):"
    else
        log "server did not answer on port $PORT within ${TIMEOUT}s; killed pid $PID; log tail ($LOG):"
    fi
    tail -n 40 "$LOG" >&2 || true
    exit 1
fi
