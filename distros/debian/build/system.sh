#!/usr/bin/env bash
# Step 9 (system), Debian family: the runtime packages of the image, VirtualGL, then cleanup.
#
# Works on Debian 13, Kali rolling and Ubuntu 24.04/22.04 (the list differs, not the steps).
# Relies on:
#   $HELIOS_PACKAGES        one package name a line (common/packages.toml, this distro's list)
#   HELIOS_STEP, HELIOS_ARCH
#   HELIOS_VIRTUALGL        true (default) or false: `virtualgl` in the distro's distro.toml
#   HELIOS_SNAPSHOT         optional: the distro's `snapshot`, which points the apt sources at it
#   the apt caches are cache volumes: nothing here cleans them, nothing relies on their state
#   (apt's and dpkg's logs go with the settling of every system-stage script: pipeline/settle.py)
# Leaves behind:
#   the listed packages (without recommends), upgraded base packages, VirtualGL when asked for and
#   its repository has a build for this arch (configured with vglserver_config; its repository, keys
#   and the gpg used to check them are removed again), no icon cache for an icon theme whose folders
#   link back into themselves (see drop_looping_icon_caches), an empty /tmp.
# The icon theme is the one xsettings.xml names, installed under that name by the package list:
# nothing here renames or links icon themes.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

# Trust in VirtualGL rests on the VirtualGL project's key for its official binaries (pinned in
# lib/virtualgl.sh, which the RHEL hook trusts too): its release scripts sign every .deb with
# `debsigs --sign=origin`, a detached signature over the package's members in the `_gpgorigin`
# member. The repository host signs its apt metadata with a key of its own, which only carries the
# package index here; the package installed is the one whose origin signature checks out.
# VGL_KEY_URL, VGL_KEY_FINGERPRINT and VGL_OFF_HINT come from the hook library (lib/virtualgl.sh).
VGL_REPO=https://packagecloud.io/dcommander/virtualgl
VGL_REPO_URL=$VGL_REPO/any/
VGL_REPO_KEY_URL=$VGL_REPO/gpgkey
APT_ETC=${APT_ETC:-/etc/apt}
VGL_PREFIX=${VGL_PREFIX:-/opt/VirtualGL} # where the virtualgl package installs
VGL_KEYRING=$APT_ETC/keyrings/helios-virtualgl.asc
VGL_SOURCES=$APT_ETC/sources.list.d/helios-virtualgl.sources

export DEBIAN_FRONTEND=noninteractive

runtime_packages() {
  local packages=()
  load_package_list packages
  banner "update the base image"
  use_archive_snapshot "$APT_ETC"
  apt-get update
  # A plain upgrade only: the base image tag is pinned, but the image should carry the security
  # fixes published since; nothing is added or removed (no dist-upgrade).
  apt-get upgrade -y
  banner "runtime packages (${#packages[@]} from $HELIOS_PACKAGES)"
  apt-get install -y --no-install-recommends "${packages[@]}"
}

# key_fingerprint FILE: the fingerprint of the one primary key in FILE, as gpg reports it.
key_fingerprint() {
  local listing
  listing=$(gpg --batch --show-keys --with-colons "$1" 2>/dev/null) || die "$1 is not an OpenPGP key"
  [[ $(grep -c '^pub:' <<<"$listing") == 1 ]] || die "$1 must hold exactly one primary key"
  awk -F: '/^pub:/ {primary = 1; next} primary && /^fpr:/ {print $10; exit}' <<<"$listing"
}

# deb_members DEB: the member names of the ar archive DEB, in order (the layout dpkg-deb writes:
# an 8-byte magic, then per member a 60-byte header and the data padded to an even length).
# deb_member DEB NAME: that member's bytes on stdout. Plain shell, so the image needs no binutils.
deb_members() { ar_walk "$1" ""; }
deb_member() { ar_walk "$1" "$2"; }
ar_walk() {
  local deb=$1 want=$2 size offset=8 header name length
  size=$(stat -c %s "$deb")
  [[ $(head -c 8 "$deb") == '!<arch>' ]] || die "${deb##*/} is not a Debian package (no ar magic)"
  while ((offset + 60 <= size)); do
    header=$(tail -c +"$((offset + 1))" "$deb" | head -c 60)
    name=${header:0:16}
    name=${name%%[[:space:]]*}
    name=${name%/}
    length=${header:48:10}
    length=${length%%[[:space:]]*}
    [[ $length =~ ^[0-9]+$ ]] || die "${deb##*/}: damaged ar header at byte $offset"
    if [[ -z $want ]]; then
      echo "$name"
    elif [[ $name == "$want" ]]; then
      tail -c +"$((offset + 61))" "$deb" | head -c "$length"
      return 0
    fi
    offset=$((offset + 60 + length + length % 2))
  done
  [[ -z $want ]] || die "${deb##*/} has no member $want"
}

# deb_signed_data DEB: what `debsigs --sign` signs: debian-binary, control.tar*, data.tar*.
deb_signed_data() {
  local deb=$1 member
  for member in $(deb_members "$deb"); do
    case $member in
      debian-binary | control.tar* | data.tar*) deb_member "$deb" "$member" ;;
    esac
  done
}

# verify_origin DEB KEY: DEB must carry an origin signature made by KEY, whose fingerprint is pinned.
verify_origin() {
  local deb=$1 key=$2 home status signer
  deb_members "$deb" | grep -qx _gpgorigin || die "${deb##*/} carries no origin signature (_gpgorigin): refusing to install it"
  home=$(mktemp -d)
  deb_member "$deb" _gpgorigin >"$home/origin.sig"
  gpg --batch --homedir "$home" --import "$key" 2>/dev/null || die "gpg could not import the VirtualGL project key"
  status=$(deb_signed_data "$deb" | gpg --batch --homedir "$home" --status-fd 1 --verify "$home/origin.sig" - 2>/dev/null) ||
    die "${deb##*/}: its origin signature does not verify against the VirtualGL project key $VGL_KEY_FINGERPRINT: refusing to install it"
  # VALIDSIG <signing key fpr> ... <primary key fpr>: the last field names the primary key.
  signer=$(awk '$2 == "VALIDSIG" {print $NF}' <<<"$status")
  rm -rf "$home"
  [[ $signer == "$VGL_KEY_FINGERPRINT" ]] || die "${deb##*/} is signed by '${signer:-nobody}', not by the VirtualGL project key $VGL_KEY_FINGERPRINT"
}

# vgl_update: refresh the VirtualGL source alone, so a failure there is reported as its own.
vgl_update() {
  apt-get update -o Dir::Etc::sourcelist="$VGL_SOURCES" -o Dir::Etc::sourceparts=- \
    -o APT::Get::List-Cleanup=0 --error-on=any ||
    die "apt could not read the VirtualGL repository $VGL_REPO_URL (see apt's messages above): retry when it is reachable, or $VGL_OFF_HINT"
}

virtualgl() {
  local work deb candidate fingerprint gpg_added=false
  virtualgl_wanted || return 0
  banner "VirtualGL"
  if ! command -v gpg >/dev/null; then
    apt-get install -y --no-install-recommends gpg
    gpg_added=true
  fi
  work=$(mktemp -d)
  virtualgl_fetch "$VGL_KEY_URL" "$work/project.asc" "the VirtualGL project key" "$VGL_REPO"
  fingerprint=$(key_fingerprint "$work/project.asc")
  [[ $fingerprint == "$VGL_KEY_FINGERPRINT" ]] ||
    die "the key at $VGL_KEY_URL has fingerprint '$fingerprint', expected $VGL_KEY_FINGERPRINT: refusing to trust it"
  install -d -m 0755 "$APT_ETC/keyrings" "$APT_ETC/sources.list.d"
  virtualgl_fetch "$VGL_REPO_KEY_URL" "$VGL_KEYRING" "the repository's index key" "$VGL_REPO"
  cat >"$VGL_SOURCES" <<SOURCES
Types: deb
URIs: $VGL_REPO_URL
Suites: any
Components: main
Signed-By: $VGL_KEYRING
SOURCES
  vgl_update
  candidate=$(apt-cache policy virtualgl | awk '/Candidate:/ {print $2}')
  if [[ -n $candidate && $candidate != "(none)" ]]; then
    (cd "$work" && apt-get download "virtualgl=$candidate") ||
      die "could not download virtualgl $candidate from $VGL_REPO_URL: retry when it is reachable, or $VGL_OFF_HINT"
    deb=$(find "$work" -maxdepth 1 -name 'virtualgl_*.deb' | head -n 1)
    [[ -n $deb ]] || die "apt-get download left no virtualgl_*.deb in $work"
    verify_origin "$deb" "$work/project.asc"
    log "$(basename "$deb"): origin signature by $VGL_KEY_FINGERPRINT verified"
    apt-get install -y --no-install-recommends "$deb"
    # Let every user reach the GPU through VirtualGL (no vglusers group in a container).
    "$VGL_PREFIX/bin/vglserver_config" +glx +s +f +t
  else
    log "no VirtualGL package for ${HELIOS_ARCH:-this arch}; vglrun will not be available"
  fi
  # The repository and keys were only needed for this install; the image keeps the distro's sources.
  rm -rf "$VGL_SOURCES" "$VGL_KEYRING" "$work"
  if [[ $gpg_added == true ]]; then
    apt-get purge -y gpg
  fi
}

# drop_looping_icon_caches [ICONS]: remove the icon cache of every theme in ICONS (default
# /usr/share/icons) whose folders link back into themselves (elementary-xfce-hidpi's status/status
# -> ., say). gtk-update-icon-cache follows such links until the kernel stops the lookup, so the
# cache fills with folders like status/status/status/.../16 and differs from one run to the next,
# even on the same files. Without a cache GTK reads the theme's folders; the desktop's own theme
# (elementary-xfce-dark) has no loop and keeps its cache.
drop_looping_icon_caches() {
  local icons=${1:-/usr/share/icons} cache theme complaints
  for cache in "$icons"/*/icon-theme.cache; do
    [[ -f $cache ]] || continue
    theme=${cache%/*}
    # find reports each loop it meets when it follows links (and then exits 1).
    complaints=$(find -L "$theme" -type d 2>&1 >/dev/null || true)
    if [[ $complaints == *"File system loop detected"* ]]; then
      log "no icon cache for ${theme##*/}: its folders link back into themselves"
      rm -f "$cache"
    fi
  done
}

main() {
  runtime_packages
  virtualgl
  banner "cleanup"
  apt-get autoremove -y --purge
  drop_looping_icon_caches
  rm -rf /tmp/* /var/tmp/*
  banner "system packages installed"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
