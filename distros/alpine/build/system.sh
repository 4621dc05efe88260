#!/bin/sh
# shellcheck shell=bash
# Step 9 (system), Alpine: the runtime packages of the image, then cleanup.
#
# The system stage starts from the bare Alpine base, which has no bash: the first lines are POSIX
# sh, install bash with apk and run this file again under bash (bash is also in the package list).
# Relies on:
#   $HELIOS_PACKAGES        one package name a line (common/packages.toml, list "alpine")
#   HELIOS_STEP; Alpine's signed main and community repositories (no edge, no testing)
#   /var/cache/apk is a cache volume (linked as /etc/apk/cache while installing); /helios/hooks/lib.sh
# Leaves behind: the listed packages, upgraded base packages, an empty /tmp (step 10 removes the
#   screensaver and screen-locker autostart entries for every distro).
#   VirtualGL: Alpine has it only in edge/testing, which a stable image must not mix in, so
#   Alpine images have no vglrun.
set -eu
mkdir -p /var/cache/apk
[ -e /etc/apk/cache ] || ln -s /var/cache/apk /etc/apk/cache
if [ -z "${BASH_VERSION:-}" ]; then
  apk add bash
  exec bash "$0" "$@"
fi
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

packages=()
load_package_list packages

banner "update the base image"
# A plain upgrade only: the base image tag is pinned, but the image should carry the security
# fixes published since.
apk upgrade

banner "runtime packages (${#packages[@]} from $HELIOS_PACKAGES)"
apk add "${packages[@]}"

banner "cleanup"
# The cache link pointed at the build's cache volume; the image keeps no apk cache.
rm -f /etc/apk/cache
rm -rf /tmp/* /var/tmp/*
banner "system packages installed"
