#!/usr/bin/env bash
# Step 3 (kasm): build libjpeg-turbo from its pinned source tarball into /usr/local.
#
# KasmVNC links libturbojpeg statically, so this build makes static, position-independent
# libraries only: nothing of it is needed at run time.
# Relies on:
#   LIBJPEG_TURBO_VERSION, LIBJPEG_TURBO_URL, LIBJPEG_TURBO_SHA256   ([libjpeg_turbo] in versions.toml)
#   SOURCE_DATE_EPOCH (from the pipeline): its CMakeLists.txt stamps the build string it reports
#     with string(TIMESTAMP), which takes that date instead of the clock
#   a C toolchain, cmake, make, curl or wget, tar (installed by the distro's step-2 kasm.sh)
#   /helios/hooks/lib.sh (banner, require_env, download)
# Leaves behind:
#   /usr/local/include/{jpeglib.h,turbojpeg.h,...} and /usr/local/lib*/lib{jpeg,turbojpeg}.a
#   (the build tree in /tmp is removed)
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

WORK_DIR=${WORK_DIR:-/tmp/libjpeg-turbo}
INSTALL_DIR=/usr/local

main() {
  banner "libjpeg-turbo ${LIBJPEG_TURBO_VERSION:-?}"
  require_env LIBJPEG_TURBO_VERSION LIBJPEG_TURBO_URL LIBJPEG_TURBO_SHA256
  rm -rf "$WORK_DIR"
  mkdir -p "$WORK_DIR/src" "$WORK_DIR/build"
  download "$LIBJPEG_TURBO_URL" "$WORK_DIR/source.tar.gz" "$LIBJPEG_TURBO_SHA256"
  tar -xzf "$WORK_DIR/source.tar.gz" -C "$WORK_DIR/src" --strip-components=1

  cmake -S "$WORK_DIR/src" -B "$WORK_DIR/build" -G "Unix Makefiles" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$INSTALL_DIR" \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DENABLE_SHARED=OFF \
    -DENABLE_STATIC=ON
  make -C "$WORK_DIR/build" -j"$(nproc)"
  make -C "$WORK_DIR/build" install
  rm -rf "$WORK_DIR"
  banner "libjpeg-turbo ${LIBJPEG_TURBO_VERSION} installed in $INSTALL_DIR"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
