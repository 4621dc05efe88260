#!/bin/sh
# shellcheck shell=bash
# Step 9 (system), Alpine: the runtime packages of the image, then cleanup.
#
# The system stage starts from the bare Alpine base, which has no bash: the first lines are POSIX
# sh, install bash with apk and run this file again under bash (bash is also in the package list).
# Relies on:
#   /helios/packages.list   one package name a line (common/packages.toml, list "alpine")
#   HELIOS_STEP; Alpine's signed main and community repositories (no edge, no testing)
#   /var/cache/apk is a cache volume (linked as /etc/apk/cache while installing)
# Leaves behind: the listed packages, upgraded base packages, an empty /tmp.
#   VirtualGL: Alpine has it only in edge/testing, which a stable image must not mix in, so
#   Alpine images have no vglrun.
if [ -z "${BASH_VERSION:-}" ]; then
  set -eu
  mkdir -p /var/cache/apk
  [ -e /etc/apk/cache ] || ln -s /var/cache/apk /etc/apk/cache
  apk add bash
  exec bash "$0" "$@"
fi
set -euo pipefail

PACKAGES_LIST=/helios/packages.list

banner() { printf '\n==== [helios step %s] %s ====\n' "${HELIOS_STEP:-9}" "$*"; }
die() { printf '[helios step %s] error: %s\n' "${HELIOS_STEP:-9}" "$*" >&2; exit 1; }

[[ -s $PACKAGES_LIST ]] || die "$PACKAGES_LIST is missing or empty"
mapfile -t packages < <(grep -v '^[[:space:]]*$' "$PACKAGES_LIST")

mkdir -p /var/cache/apk
[[ -e /etc/apk/cache ]] || ln -s /var/cache/apk /etc/apk/cache

banner "update the base image"
# A plain upgrade only: the base image tag is pinned, but the image should carry the security
# fixes published since.
apk upgrade

banner "runtime packages (${#packages[@]} from $PACKAGES_LIST)"
apk add "${packages[@]}"

banner "desktop defaults"
rm -f /etc/xdg/autostart/xscreensaver.desktop /etc/xdg/autostart/light-locker.desktop

banner "cleanup"
# The cache link pointed at the build's cache volume; the image keeps no apk cache.
rm -f /etc/apk/cache
rm -rf /tmp/* /var/tmp/*
banner "system packages installed"
