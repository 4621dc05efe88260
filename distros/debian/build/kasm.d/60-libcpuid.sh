#!/usr/bin/env bash
# Step 2 drop-in (kasm), Debian family: libcpuid, from the archive where it has the package for
# this architecture, else built static from its pinned release.
#
# KasmVNC 1.5's CMakeLists.txt requires the pkg-config module libcpuid. Debian 13 and Ubuntu build
# libcpuid-dev for x86 only (trixie: amd64 i386 x32), so an arm64 build has none to install;
# KasmVNC's own builder always compiles it (builder/scripts/build-cpuid). Runs after Debian's
# kasm.sh, and after Kali's 50-cmake3.sh, so Kali builds with CMake 3 like everything else there.
# Step 9's system.d/50-kasmvnc-libraries.sh asks the archive the same question (apt_has_candidate)
# and installs libcpuid's runtime package only where this step installed libcpuid-dev.
# Relies on: the apt lists of kasm.sh (`apt-get update` ran); LIBCPUID_* ([libcpuid] in
#   pipeline/versions.toml, through `inputs` in distro.toml); cmake, a C toolchain, pkg-config, curl
#   and tar from kasm.sh; /helios/hooks/lib.sh.
# Leaves behind (build stage only): libcpuid-dev, or libcpuid.a with its headers and libcpuid.pc in
#   /usr/local (lib, include, lib/pkgconfig: pkg-config and the linker look there by default).
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

export DEBIAN_FRONTEND=noninteractive

if apt_has_candidate libcpuid-dev; then
  banner "libcpuid: the archive's libcpuid-dev"
  apt-get install -y --no-install-recommends libcpuid-dev
else
  log "the archive has no libcpuid-dev for ${HELIOS_ARCH:-this architecture}: building the pinned release"
  build_static_libcpuid
fi
