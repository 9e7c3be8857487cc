#!/usr/bin/env bash
# The run command: sets up the offline embedding model, builds akashic and runs the demo fleet.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
bash scripts/setup-models.sh
# shellcheck source=scripts/progress.sh
. scripts/progress.sh
if [ -x target/debug/akashic ]; then
    echo "building akashic (seconds when little changed)..." >&2
else
    echo "first build of akashic: building about 340 crates, roughly 5 minutes on 2 cores; progress every 20 s (later runs take seconds)" >&2
fi
cargo_build_with_progress --bin akashic
exec cargo run --quiet -- demo "$@"
