#!/usr/bin/env bash
# Step 9 (system), Debian family: the runtime packages of the image, VirtualGL, then cleanup.
#
# Works on Debian 13, Kali rolling and Ubuntu 24.04/22.04 (the list differs, not the steps).
# Relies on:
#   /helios/packages.list   one package name a line (common/packages.toml, this distro's list)
#   HELIOS_STEP, HELIOS_ARCH
#   the apt caches are cache volumes: nothing here cleans them, nothing relies on their state
# Leaves behind:
#   the listed packages (without recommends), upgraded base packages, VirtualGL where its signed
#   repository has a build for this arch (configured with vglserver_config; its repository and key
#   are removed again), an `elementary` icon theme name for the XFCE settings, an empty /tmp.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

VGL_KEY_URL=https://packagecloud.io/dcommander/virtualgl/gpgkey
VGL_REPO_URL=https://packagecloud.io/dcommander/virtualgl/any/
VGL_KEYRING=/etc/apt/keyrings/helios-virtualgl.asc
VGL_SOURCES=/etc/apt/sources.list.d/helios-virtualgl.sources

packages=()
load_package_list packages

export DEBIAN_FRONTEND=noninteractive

banner "update the base image"
apt-get update
# A plain upgrade only: the base image tag is pinned, but the image should carry the security
# fixes published since; nothing is added or removed (no dist-upgrade).
apt-get upgrade -y

banner "runtime packages (${#packages[@]} from /helios/packages.list)"
apt-get install -y --no-install-recommends "${packages[@]}"

banner "VirtualGL"
# VirtualGL is in no Debian or Ubuntu archive: take it from the project's own apt repository,
# whose Release file apt checks against the project's key (Signed-By, never trusted=yes).
install -d -m 0755 /etc/apt/keyrings
curl -fsSL --retry 3 -o "$VGL_KEYRING" "$VGL_KEY_URL"
grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$VGL_KEYRING" || die "$VGL_KEY_URL did not return a PGP key"
cat >"$VGL_SOURCES" <<SOURCES
Types: deb
URIs: $VGL_REPO_URL
Suites: any
Components: main
Signed-By: $VGL_KEYRING
SOURCES
apt-get update
candidate=$(apt-cache policy virtualgl | awk '/Candidate:/ {print $2}')
if [[ -n $candidate && $candidate != "(none)" ]]; then
  apt-get install -y --no-install-recommends virtualgl
  # Let every user reach the GPU through VirtualGL (no vglusers group in a container).
  /opt/VirtualGL/bin/vglserver_config +glx +s +f +t
else
  echo "no VirtualGL package for ${HELIOS_ARCH:-this arch}; vglrun will not be available" >&2
fi
# The repository was only needed for this install; the image keeps the distro's sources alone.
rm -f "$VGL_SOURCES" "$VGL_KEYRING"

banner "desktop defaults"
# The XFCE settings name the icon theme "elementary"; Debian and Ubuntu ship it as elementary-xfce-*.
if [[ -d /usr/share/icons/elementary-xfce-darker && ! -e /usr/share/icons/elementary ]]; then
  ln -s elementary-xfce-darker /usr/share/icons/elementary
fi

banner "cleanup"
apt-get autoremove -y --purge
rm -rf /tmp/* /var/tmp/* /var/log/apt/* /var/log/dpkg.log
banner "system packages installed"
