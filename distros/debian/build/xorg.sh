#!/usr/bin/env bash
# Step 5 (kasm), Debian family: X server 21.1 (xorg_version in distros/debian/distro.toml, which
# Kali and both Ubuntus inherit) built into KasmVNC's Xvnc.
#
# The recipe is build_xorg_server of the hook library, the same for every family: the release
# tarball verified against XORG_SHA256, KasmVNC's patch for the series, configure for Xvnc only
# (prefix /opt/kasmweb, no libunwind, so Xvnc needs no libunwind8 at run time), make. Nothing
# differs on this family; configure options for it alone would be passed as arguments.
# Relies on: XORG_VERSION, XORG_SHA256; /src from step 4; the X server's build dependencies
#   (`apt-get build-dep xorg-server`, step 2); /helios/hooks/lib.sh.
# Leaves behind: /src/unix/xserver configured and built, with hw/vnc/Xvnc for step 8.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

build_xorg_server
