#!/usr/bin/env bash
# Step 2 drop-in (kasm), RHEL family: the libraries KasmVNC 1.5 needs that EL9 lacks, built static.
#
# Runs right after distros/rhel/build/kasm.sh (AlmaLinux inherits it). EL9 has no libcpuid at all
# (not in BaseOS, AppStream, CRB or EPEL 9), and its libwebp is 1.2.0, without the libsharpyuv
# that Xvnc links (-lwebp -lsharpyuv). Both are built from their pinned releases as static,
# position-independent libraries in /usr/local, as KasmVNC's own builder does
# (builder/scripts/build-cpuid, build-webp), so the image needs neither at run time.
# Relies on: LIBCPUID_*, LIBWEBP_* ([libcpuid], [libwebp] in pipeline/versions.toml); cmake, a C
#   toolchain, pkgconf, curl and tar from kasm.sh; no libwebp-devel (its 1.2 headers and .pc would
#   shadow these); /helios/hooks/lib.sh.
# Leaves behind (build stage only): /usr/local/{include,lib64} with libcpuid.a, libwebp.a,
#   libsharpyuv.a and their headers, and links to their .pc files in pkgconf's default directory.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

# Only the library: no kernel drivers, tests or documentation (as build-cpuid).
build_static_library libcpuid libcpuid \
  -DLIBCPUID_BUILD_DRIVERS=OFF \
  -DLIBCPUID_ENABLE_TESTS=OFF \
  -DLIBCPUID_ENABLE_DOCS=OFF

# The libraries only, none of the command-line tools (they would want libpng, libjpeg, giflib).
build_static_library libwebp "libwebp libsharpyuv" \
  -DWEBP_BUILD_ANIM_UTILS=OFF \
  -DWEBP_BUILD_CWEBP=OFF \
  -DWEBP_BUILD_DWEBP=OFF \
  -DWEBP_BUILD_GIF2WEBP=OFF \
  -DWEBP_BUILD_IMG2WEBP=OFF \
  -DWEBP_BUILD_VWEBP=OFF \
  -DWEBP_BUILD_WEBPINFO=OFF \
  -DWEBP_BUILD_WEBPMUX=OFF \
  -DWEBP_BUILD_EXTRAS=OFF
