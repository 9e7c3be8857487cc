#!/usr/bin/env bash
# Splits a directory of blind eval cases into evals/<set>/dev and evals/<set>/test by a hash
# of each file name (sha256, first hex digit even: dev), so the split never depends on a case's
# content and nobody reads the test half to make it.
set -euo pipefail
# Usage: split-blind.sh SRC_DIR [SET]   (SET defaults to blind)
src="$1"; set_name="${2:-blind}"; repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$repo/evals/$set_name"
mkdir -p "$out/dev" "$out/test"
for f in "$src"/*.toml; do
  name="$(basename "$f")"
  digit="$(printf '%s' "$name" | sha256sum | cut -c1)"
  case "$digit" in
    0|2|4|6|8|a|c|e) half=dev ;;
    *) half=test ;;
  esac
  cp "$f" "$out/$half/$name"
done
echo "dev: $(ls "$out/dev" | wc -l) test: $(ls "$out/test" | wc -l)"
