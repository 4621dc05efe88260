#!/usr/bin/env bash
# Step 5 (kasm), RHEL family (Rocky Linux 9, AlmaLinux 9): X server 1.20 built into KasmVNC's Xvnc.
#
# build_xorg_server of the hook library does the work for every family. What EL9 needs is already
# in it: 1.20's configure asks for Mesa's version in gl.pc, EL9's gl.pc comes from libglvnd, and
# the recipe relaxes that check for 1.20. No other option differs here.
# Relies on: XORG_VERSION, XORG_SHA256 (xorg_version in distros/rhel/distro.toml, [xorg.sha256]);
#   /src from step 4; the -devel packages of step 2; /helios/hooks/lib.sh.
# Leaves behind: /src/unix/xserver configured and built, with hw/vnc/Xvnc for step 8.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

build_xorg_server
