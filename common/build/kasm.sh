#!/usr/bin/env bash
# Step 4 (kasm): fetch KasmVNC at its pinned commit into /src, patch, configure and build it.
#
# Only the server is built: the FLTK viewer and the test programs are switched off. The X server
# (step 5) is built afterwards inside /src/unix/xserver and links the libraries built here.
# Relies on:
#   KASMVNC_URL, KASMVNC_COMMIT, KASMVNC_VERSION   ([kasmvnc] in pipeline/versions.toml)
#   $HELIOS_HOOKS/kasmvnc-*.patch                  applied in name order with `git apply`; one that
#                                                  does not apply stops the build
#   libjpeg-turbo in /usr/local (step 3; KasmVNC links libturbojpeg.a statically); build
#   dependencies from the distro's step-2 kasm.sh: cmake, make, a C++20 toolchain, git, openssl,
#   freetype, libpng, zlib, libwebp with libsharpyuv (Xvnc links both), and since KasmVNC 1.5 the
#   pkg-config modules libavcodec, libavformat, libavutil, libswscale, libva, libva-drm, libdrm,
#   libcpuid and fmt, oneTBB and libyuv (cmake or the build stops without them); /helios/hooks/lib.sh
# Leaves behind:
#   /src   the KasmVNC tree at KASMVNC_COMMIT, configured with cmake and built
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

SRC_DIR=${SRC_DIR:-/src}

# server_only TREE: make sure the top-level CMakeLists.txt builds neither the viewer (FLTK) nor the
# tests. Recent releases already leave them out; older ones need the two lines commented.
server_only() {
  local cmakelists=$1/CMakeLists.txt
  [[ -f $cmakelists ]] || die "$cmakelists is missing"
  sed -i -e '/^find_package(FLTK/s/^/#/' -e '/^add_subdirectory(tests/s/^/#/' "$cmakelists"
}

main() {
  banner "KasmVNC ${KASMVNC_VERSION:-?} (${KASMVNC_COMMIT:-?})"
  require_env KASMVNC_URL KASMVNC_COMMIT KASMVNC_VERSION HELIOS_HOOKS
  git_checkout "$KASMVNC_URL" "$KASMVNC_COMMIT" "$SRC_DIR"
  local patches=()
  mapfile -t patches < <(compgen -G "$HELIOS_HOOKS/kasmvnc-*.patch" | LC_ALL=C sort)
  ((${#patches[@]} > 0)) || die "no kasmvnc-*.patch in $HELIOS_HOOKS"
  git_apply_patches "$SRC_DIR" "${patches[@]}"
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
