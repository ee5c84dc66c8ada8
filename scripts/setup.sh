#!/usr/bin/env bash
# Fetch the ONNX Runtime shared library that cxpulse loads at run time (ort crate,
# load-dynamic) and verify the committed models.
#
#   - .cxpulse/lib/libonnxruntime.so.1.32.0   from the PyPI onnxruntime==1.32.0 wheel
#                                             (cp311, manylinux_2_28_x86_64)
#   - .cxpulse/lib/libonnxruntime.so          symlink to it (point ORT_DYLIB_PATH here)
#   - models/*/SHA256SUMS                     checked for every model folder that has one
#
# Needs only python3 + pip and access to PyPI; no other download. Idempotent: when the
# library is present with the pinned sha256 nothing is fetched.
#
# Usage: scripts/setup.sh [--force] [--models-only]
#   --force        re-fetch the library even if it is present and intact
#   --models-only  skip the library, only verify models/*/SHA256SUMS
# Env: PYTHON (default python3)
set -euo pipefail

ORT_VERSION="1.32.0"
ORT_PY_VERSION="3.11"
ORT_PLATFORM="manylinux_2_28_x86_64"
ORT_WHEEL="onnxruntime-${ORT_VERSION}-cp311-cp311-${ORT_PLATFORM}.whl"
ORT_WHEEL_SHA256="5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d"
ORT_MEMBER="onnxruntime/capi/libonnxruntime.so.${ORT_VERSION}"
ORT_SO_SHA256="6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f"
NEED_FREE_KB=$((100 * 1024)) # wheel (~28 MB) + library (~35 MB) + slack

ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
LIB_DIR="$ROOT/.cxpulse/lib"
LIB_FILE="$LIB_DIR/libonnxruntime.so.${ORT_VERSION}"
LIB_LINK="$LIB_DIR/libonnxruntime.so"
PYTHON="${PYTHON:-python3}"

FORCE=0
MODELS_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        --models-only) MODELS_ONLY=1 ;;
        -h | --help)
            sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "setup: error: unknown argument '$arg' (try --help)" >&2
            exit 2
            ;;
    esac
done

say() { echo "setup: $*"; }
die() {
    echo "setup: error: $*" >&2
    exit 1
}

# sha256 of a file, with sha256sum or (if coreutils lacks it) python3.
sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum -- "$1" | cut -d' ' -f1
    elif command -v "$PYTHON" >/dev/null 2>&1; then
        "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
    else
        die "neither sha256sum nor $PYTHON is available to compute checksums"
    fi
}

lib_ok() {
    [[ -f "$LIB_FILE" ]] && [[ "$(sha256_of "$LIB_FILE")" == "$ORT_SO_SHA256" ]]
}

ensure_link() {
    if [[ "$(readlink "$LIB_LINK" 2>/dev/null || true)" != "$(basename "$LIB_FILE")" ]]; then
        ln -sfn "$(basename "$LIB_FILE")" "$LIB_LINK"
        say "linked .cxpulse/lib/libonnxruntime.so -> $(basename "$LIB_FILE")"
    fi
}

fetch_lib() {
    local arch
    arch="$(uname -m)"
    [[ "$(uname -s)" == "Linux" && "$arch" == "x86_64" ]] ||
        die "the pinned onnxruntime library is for Linux x86_64; this machine is $(uname -s) $arch"

    command -v "$PYTHON" >/dev/null 2>&1 ||
        die "$PYTHON not found: install Python 3 (Debian: apt-get install python3 python3-pip)"
    "$PYTHON" -m pip --version >/dev/null 2>&1 ||
        die "pip is not available for $PYTHON (Debian: apt-get install python3-pip)"

    mkdir -p "$LIB_DIR" || die "cannot create $LIB_DIR"
    local free_kb
    free_kb="$(df -Pk -- "$LIB_DIR" | awk 'NR==2 {print $4}')"
    [[ "$free_kb" =~ ^[0-9]+$ ]] || die "could not read free disk space for $LIB_DIR from df"
    ((free_kb >= NEED_FREE_KB)) ||
        die "not enough disk space in $LIB_DIR: $((free_kb / 1024)) MB free, need $((NEED_FREE_KB / 1024)) MB"

    # Work inside .cxpulse/ (same file system as the target, so the final mv is atomic).
    local tmp
    tmp="$(mktemp -d "$ROOT/.cxpulse/tmp.XXXXXX")"
    # shellcheck disable=SC2064
    trap "rm -rf -- '$tmp'" EXIT

    say "downloading onnxruntime==$ORT_VERSION wheel ($ORT_PLATFORM, cp311) from PyPI"
    if ! "$PYTHON" -m pip download --disable-pip-version-check --no-input --progress-bar off -q \
        --no-deps --only-binary=:all: --python-version "$ORT_PY_VERSION" --platform "$ORT_PLATFORM" \
        "onnxruntime==$ORT_VERSION" -d "$tmp" >"$tmp/pip.log" 2>&1; then
        sed 's/^/setup:   pip: /' "$tmp/pip.log" >&2
        die "pip download of onnxruntime==$ORT_VERSION failed (is PyPI reachable?)"
    fi
    local wheel="$tmp/$ORT_WHEEL"
    [[ -f "$wheel" ]] || die "pip did not produce $ORT_WHEEL; got: $(find "$tmp" -maxdepth 1 -name '*.whl' -printf '%f ')"
    local got
    got="$(sha256_of "$wheel")"
    [[ "$got" == "$ORT_WHEEL_SHA256" ]] ||
        die "$ORT_WHEEL has sha256 $got, expected $ORT_WHEEL_SHA256"

    say "extracting $ORT_MEMBER"
    if ! "$PYTHON" - "$wheel" "$ORT_MEMBER" "$tmp/lib.so" <<'PY' 2>"$tmp/unzip.log"; then
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
        sed 's/^/setup:   /' "$tmp/unzip.log" >&2
        die "could not extract $ORT_MEMBER from $ORT_WHEEL"
    fi
    got="$(sha256_of "$tmp/lib.so")"
    [[ "$got" == "$ORT_SO_SHA256" ]] ||
        die "extracted libonnxruntime.so.$ORT_VERSION has sha256 $got, expected $ORT_SO_SHA256"
    chmod 0755 "$tmp/lib.so"
    mv -f -- "$tmp/lib.so" "$LIB_FILE"
    rm -rf -- "$tmp"
    trap - EXIT
    say "installed .cxpulse/lib/libonnxruntime.so.$ORT_VERSION (sha256 ok)"
}

verify_models() {
    local dir sums n=0 bad=0 bad_before line want name got
    shopt -s nullglob
    for dir in "$ROOT"/models/*/; do
        sums="${dir}SHA256SUMS"
        [[ -f "$sums" ]] || continue
        n=$((n + 1))
        local rel="${dir#"$ROOT"/}"
        rel="${rel%/}"
        bad_before=$bad
        while IFS= read -r line || [[ -n "$line" ]]; do
            line="${line%$'\r'}"
            [[ -z "$line" || "$line" == \#* ]] && continue
            want="${line%% *}"
            name="${line#* }"
            name="${name# }"
            name="${name#\*}" # binary-mode marker of sha256sum -b
            if [[ ! "$want" =~ ^[0-9a-fA-F]{64}$ || -z "$name" ]]; then
                echo "setup: error: $rel/SHA256SUMS: malformed line: $line" >&2
                bad=$((bad + 1))
            elif [[ ! -f "$dir$name" ]]; then
                echo "setup: error: $rel/$name is missing (listed in $rel/SHA256SUMS)" >&2
                bad=$((bad + 1))
            else
                got="$(sha256_of "$dir$name")"
                if [[ "${got,,}" != "${want,,}" ]]; then
                    echo "setup: error: $rel/$name does not match $rel/SHA256SUMS (sha256 $got, expected $want)" >&2
                    bad=$((bad + 1))
                fi
            fi
        done <"$sums"
        if ((bad == bad_before)); then say "model $rel: checksums ok"; fi
    done
    shopt -u nullglob
    ((bad == 0)) || die "$bad model file(s) failed verification"
    ((n > 0)) || say "no models/*/SHA256SUMS found; nothing to verify"
}

if ((MODELS_ONLY == 0)); then
    if ((FORCE == 0)) && lib_ok; then
        say "onnxruntime $ORT_VERSION already present (sha256 ok)"
    else
        if [[ -e "$LIB_FILE" ]] && ((FORCE == 0)); then
            say "$(basename "$LIB_FILE") present but its sha256 does not match; re-fetching"
        fi
        fetch_lib
    fi
    ensure_link
fi
verify_models
if ((MODELS_ONLY == 0)); then
    say "done; the daemon finds the library via ORT_DYLIB_PATH=$LIB_LINK"
else
    say "done"
fi
