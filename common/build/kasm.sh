#!/usr/bin/env bash
# Step 4 (kasm): fetch KasmVNC at its pinned commit into /src, configure and build it.
#
# Only the server is built: the FLTK viewer and the test programs are switched off. The X server
# (step 5) is built afterwards inside /src/unix/xserver and links the libraries built here.
# Relies on:
#   KASMVNC_URL, KASMVNC_COMMIT, KASMVNC_VERSION   ([kasmvnc] in pipeline/versions.toml)
#   libjpeg-turbo in /usr/local (step 3); build dependencies from the distro's step-2 kasm.sh
#   (cmake, make, a C/C++ toolchain, git, libwebp, openssl, ...)
# Leaves behind:
#   /src   the KasmVNC tree at KASMVNC_COMMIT, configured with cmake and built
set -euo pipefail

SRC_DIR=${SRC_DIR:-/src}

banner() { printf '\n==== [helios step %s] %s ====\n' "${HELIOS_STEP:-4}" "$*"; }
die() { printf '[helios step %s] error: %s\n' "${HELIOS_STEP:-4}" "$*" >&2; exit 1; }

require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "$name is not set (it comes from pipeline/versions.toml)"
  done
}

# git_checkout URL COMMIT DIR: fetch exactly COMMIT (a full 40-hex id) and prove HEAD is it.
git_checkout() {
  local url=$1 commit=$2 dir=$3
  [[ $commit =~ ^[0-9a-f]{40}$ ]] || die "not a full commit id: '$commit'"
  rm -rf "$dir"
  git init -q "$dir"
  git -C "$dir" remote add origin "$url"
  git -C "$dir" fetch -q --depth 1 origin "$commit"
  git -C "$dir" -c advice.detachedHead=false checkout -q FETCH_HEAD
  [[ "$(git -C "$dir" rev-parse HEAD)" == "$commit" ]] || die "$url: HEAD is not $commit"
}

# server_only TREE: make sure the top-level CMakeLists.txt builds neither the viewer (FLTK) nor the
# tests. Recent releases already leave them out; older ones need the two lines commented.
server_only() {
  local cmakelists=$1/CMakeLists.txt
  [[ -f $cmakelists ]] || die "$cmakelists is missing"
  sed -i -e '/^find_package(FLTK/s/^/#/' -e '/^add_subdirectory(tests/s/^/#/' "$cmakelists"
}

main() {
  banner "KasmVNC ${KASMVNC_VERSION:-?} (${KASMVNC_COMMIT:-?})"
  require_env KASMVNC_URL KASMVNC_COMMIT KASMVNC_VERSION
  git_checkout "$KASMVNC_URL" "$KASMVNC_COMMIT" "$SRC_DIR"
  server_only "$SRC_DIR"
  (
    cd "$SRC_DIR"
    cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_VIEWER:BOOL=OFF -DENABLE_GNUTLS:BOOL=OFF .
    make -j"$(nproc)"
  )
  banner "KasmVNC ${KASMVNC_VERSION} built in $SRC_DIR"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
