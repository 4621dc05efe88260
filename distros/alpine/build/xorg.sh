#!/usr/bin/env bash
# Step 5 (kasm), Alpine: X server 1.20 (xorg_version in distros/alpine/distro.toml) built into
# KasmVNC's Xvnc with musl.
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
