#!/usr/bin/env bash
# The run command: sets up the offline embedding model, builds akashic and runs the demo fleet.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
bash scripts/setup-models.sh
echo "building akashic (a few minutes the first time)..." >&2
cargo build --quiet
exec cargo run --quiet -- demo "$@"
