#!/usr/bin/env bash
# Step 2 drop-in (kasm), Alpine: libcpuid built static from its pinned release, on every
# architecture.
#
# KasmVNC 1.5's CMakeLists.txt requires the pkg-config module libcpuid. Alpine's package
# (community/libcpuid) is built for arch="x86 x86_64" only, so aarch64 has none; building the
# pinned release everywhere gives both architectures the same libcpuid and the image no runtime
# package for it, as on the RHEL family (KasmVNC's own builder always compiles it:
# builder/scripts/build-cpuid).
# Relies on: LIBCPUID_* ([libcpuid] in pipeline/versions.toml, through `inputs` in distro.toml);
#   bash, cmake, a C toolchain (alpine-sdk), pkgconf, curl and tar from kasm.sh; /helios/hooks/lib.sh.
# Leaves behind (build stage only): libcpuid.a, its headers and libcpuid.pc in /usr/local (lib,
#   include, lib/pkgconfig; the .pc linked into pkgconf's default directory if /usr/local is not
#   on its search path).
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

build_static_libcpuid
