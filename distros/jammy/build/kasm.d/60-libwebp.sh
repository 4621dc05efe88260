#!/usr/bin/env bash
# Step 2 drop-in (kasm), Ubuntu 22.04: libwebp with libsharpyuv, built static from its pinned
# release.
#
# Xvnc links -lwebp -lsharpyuv (KasmVNC's unix/xserver/hw/vnc/Makefile.am). libsharpyuv came with
# libwebp 1.3.0, and jammy's libwebp is 1.2.2, so step 5 could not link. libwebp-dev 1.2.2 stays
# installed (libtiff-dev depends on it): the 1.5 headers in /usr/local/include come first on the
# compiler's default search path, pkg-config looks in /usr/local first, and the X server's
# configure puts /usr/local/lib in front of the distro's library folders (XORG_LDFLAGS), so Xvnc
# links these static archives; build_static_library checks that the linker takes them.
# Relies on: LIBWEBP_* ([libwebp] in pipeline/versions.toml, through `inputs` in distro.toml);
#   cmake, a C toolchain, pkg-config, curl and tar from kasm.sh; /helios/hooks/lib.sh.
# Leaves behind (build stage only): libwebp.a, libsharpyuv.a (and libwebp's other archives), their
#   headers and .pc files in /usr/local (lib, include, lib/pkgconfig).
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

build_static_libwebp
