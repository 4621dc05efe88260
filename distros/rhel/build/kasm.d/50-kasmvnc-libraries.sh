#!/usr/bin/env bash
# Step 2 drop-in (kasm), RHEL family: the libraries KasmVNC 1.5 needs that EL9 lacks, built static.
#
# Runs right after distros/rhel/build/kasm.sh (AlmaLinux inherits it). EL9 has no libcpuid at all
# (not in BaseOS, AppStream, CRB or EPEL 9), and its libwebp is 1.2.0, without the libsharpyuv
# that Xvnc links (-lwebp -lsharpyuv). Both are built from their pinned releases as static,
# position-independent libraries in /usr/local, as KasmVNC's own builder does
# (builder/scripts/build-cpuid, build-webp), so the image needs neither at run time; the recipes
# are the hook library's (lib/static.sh), shared with the other distros' drop-ins.
# Relies on: LIBCPUID_*, LIBWEBP_* ([libcpuid], [libwebp] in pipeline/versions.toml); cmake, a C
#   toolchain, pkgconf, curl and tar from kasm.sh; no libwebp-devel (its 1.2 headers and .pc would
#   shadow these); /helios/hooks/lib.sh.
# Leaves behind (build stage only): libcpuid.a, libwebp.a and libsharpyuv.a in /usr/local/lib64
#   (CMake's GNUInstallDirs picks lib64 on a 64-bit system that is neither Debian, Alpine nor
#   Arch; libcpuid 0.8.1 and libwebp 1.5.0 both install through it), their headers in
#   /usr/local/include, and links to their .pc files in pkgconf's default directory. The log names
#   the archive the linker takes for each library (build_static_library checks it is this one).
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

build_static_libcpuid
build_static_libwebp
