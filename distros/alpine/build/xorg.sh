#!/usr/bin/env bash
# Step 5 (kasm), Alpine: X server 21.1 (xorg_version in distros/alpine/distro.toml, the release
# Debian builds) built into KasmVNC's Xvnc with musl. The 21.1 series is what KasmVNC's own Alpine
# builders use; it links libxcvt (libxcvt-dev in step 2, libxcvt in the image's package list).
#
# The shared recipe, build_xorg_server of the hook library, builds it unchanged; an option only
# Alpine needed would be passed to it as an argument.
# Relies on: XORG_VERSION, XORG_SHA256; /src from step 4; the -dev packages of step 2 (bash among
#   them); /helios/hooks/lib.sh.
# Leaves behind: /src/unix/xserver configured and built, with hw/vnc/Xvnc for step 8.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

build_xorg_server
