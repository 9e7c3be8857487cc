#!/usr/bin/env bash
# Splits a directory of blind eval cases into evals/blind/dev and evals/blind/test by a hash
# of each file name (sha256, first hex digit even: dev), so the split never depends on a case's
# content and nobody reads the test half to make it.
set -euo pipefail
src="$1"; repo="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$repo/evals/blind/dev" "$repo/evals/blind/test"
for f in "$src"/*.toml; do
  name="$(basename "$f")"
  digit="$(printf '%s' "$name" | sha256sum | cut -c1)"
  case "$digit" in
    0|2|4|6|8|a|c|e) half=dev ;;
    *) half=test ;;
  esac
  cp "$f" "$repo/evals/blind/$half/$name"
done
echo "dev: $(ls "$repo/evals/blind/dev" | wc -l) test: $(ls "$repo/evals/blind/test" | wc -l)"
