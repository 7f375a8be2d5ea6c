# Shared helpers for scripts/*: sourced, not run.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Pinned toolchain pieces (docs/build.md explains each).
ANCHOR_VERSION="2.0.0-rc.2"
ANCHOR_CRATE_SHA256="356811863224722c5eff648869b67ea8d769b0da8c4924cc38cc242ced617e38"
SBPF_LINKER_VERSION="0.1.9"
DEBIAN_RUSTC=/usr/bin/rustc
DEBIAN_CARGO=/usr/bin/cargo
BPF_SYSROOT_LIB=/usr/lib/rustlib/bpfel-unknown-none/lib
LLVM_LIB=/usr/lib/x86_64-linux-gnu/libLLVM.so.22.1

PATCHED_DIR="$ROOT/target/patched"
ANCHOR_SRC="$PATCHED_DIR/anchor-lang-$ANCHOR_VERSION"
LLVM_LINK_DIR="$ROOT/target/llvm22"

die() {
    echo "error: $*" >&2
    exit 1
}

step() {
    echo "==> $*" >&2
}

sudo_if_needed() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# One run at a time may own the iogrid-s* namespaces and their bridge (the
# demo, the Ray e2e test): a second one would tear them down under the first.
# Waits for the other run (up to an hour) rather than failing. The lock is
# held by a helper process that lives as long as this script, not on one of
# this script's fds: its children (Ray nodes a killed worker orphans) would
# inherit such an fd and hold the lock after the script is gone.
hold_netns_lock() {
    local lock=/run/lock/iogrid-netns.lock answer=""
    if ! flock -n "$lock" true; then
        step "another run holds the network namespaces ($lock); waiting for it to end"
    fi
    exec 8< <(
        exec 9>"$lock"
        flock -w 3600 9 || exit 1
        echo locked
        exec 1>&-
        while kill -0 $$ 2>/dev/null; do sleep 1; done
    )
    read -r -u 8 answer || true
    exec 8<&-
    [[ $answer == locked ]] || die "the network namespaces stayed in use for an hour ($lock)"
}

# Fetches anchor-lang from crates.io, checks its sha256 and applies our patch.
# Re-runs only when the patch file is newer than the prepared copy.
prepare_anchor() {
    local patch="$ROOT/patches/anchor-lang-$ANCHOR_VERSION.patch"
    local stamp="$ANCHOR_SRC/.iogrid-patched"
    if [[ -f "$stamp" && "$stamp" -nt "$patch" ]]; then
        return
    fi
    step "preparing patched anchor-lang $ANCHOR_VERSION"
    command -v curl >/dev/null || die "curl is required to fetch anchor-lang (apt-get install curl)"
    mkdir -p "$PATCHED_DIR"
    local crate="$PATCHED_DIR/anchor-lang-$ANCHOR_VERSION.crate"
    if [[ ! -f "$crate" ]] || ! echo "$ANCHOR_CRATE_SHA256  $crate" | sha256sum -c --status; then
        curl -sSfL -o "$crate" \
            "https://static.crates.io/crates/anchor-lang/anchor-lang-$ANCHOR_VERSION.crate"
    fi
    echo "$ANCHOR_CRATE_SHA256  $crate" | sha256sum -c --status \
        || die "anchor-lang-$ANCHOR_VERSION.crate does not match its pinned sha256"
    rm -rf "$ANCHOR_SRC"
    tar -xzf "$crate" -C "$PATCHED_DIR"
    patch -s -d "$ANCHOR_SRC" -p1 <"$patch" || die "patches/$(basename "$patch") does not apply"
    touch "$stamp"
}

# The linker dlopens the first libLLVM* on LD_LIBRARY_PATH; the system folder
# holds several versions, so point it at a folder with only LLVM 22.
prepare_llvm_link() {
    mkdir -p "$LLVM_LINK_DIR"
    ln -sf "$LLVM_LIB" "$LLVM_LINK_DIR/libLLVM.so.22.1"
}

check_sbf_prerequisites() {
    local missing=()
    [[ -x "$DEBIAN_RUSTC" ]] || missing+=("Debian rustc ($DEBIAN_RUSTC): apt-get install rustc-web cargo-web")
    [[ -x "$DEBIAN_CARGO" ]] || missing+=("Debian cargo ($DEBIAN_CARGO): apt-get install cargo-web")
    [[ -d "$BPF_SYSROOT_LIB" ]] || missing+=("precompiled core/alloc for bpfel-unknown-none: apt-get install libstd-rust-web-dev-bpf")
    [[ -f "$LLVM_LIB" ]] || missing+=("LLVM 22 ($LLVM_LIB): apt-get install rust-web-llvm")
    if ! command -v sbpf-linker >/dev/null; then
        missing+=("sbpf-linker: cargo install sbpf-linker@$SBPF_LINKER_VERSION --locked")
    elif ! cargo install --list | grep -q "^sbpf-linker v$SBPF_LINKER_VERSION:"; then
        missing+=("sbpf-linker $SBPF_LINKER_VERSION (another version is installed): cargo install sbpf-linker@$SBPF_LINKER_VERSION --locked --force")
    fi
    if ((${#missing[@]})); then
        echo "error: the SBF build needs these prerequisites (scripts/install-prerequisites installs them all):" >&2
        printf '  - %s\n' "${missing[@]}" >&2
        exit 1
    fi
    if ! "$DEBIAN_RUSTC" --version | grep -q "^rustc 1\.9[6-9]\|^rustc 1\.[1-9][0-9][0-9]"; then
        die "Debian rustc is $("$DEBIAN_RUSTC" --version); 1.96 or newer from bookworm-security is needed (apt-get update && apt-get install rustc-web)"
    fi
}
