#!/usr/bin/env bash
# Step 9 (system), RHEL family (Rocky Linux 9, AlmaLinux 9): runtime packages, VirtualGL, cleanup.
#
# Relies on:
#   $HELIOS_PACKAGES        one package name a line (common/packages.toml, list "rhel")
#   HELIOS_STEP, HELIOS_ARCH
#   HELIOS_VIRTUALGL        true (default) or false: `virtualgl` in the distro's distro.toml
#   /var/cache/dnf is a cache volume: nothing here cleans it or relies on its state
# Leaves behind:
#   the listed packages (EPEL, its key pinned by fingerprint, and CRB enabled while installing;
#   EPEL's repository definition is removed and CRB disabled afterwards, the installed packages
#   stay), upgraded base packages,
#   VirtualGL when asked for and its repository has a build for this arch, every package checked
#   against the project's signing key (pinned by fingerprint in lib/virtualgl.sh; the repository
#   file is removed afterwards), an empty /tmp.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

# VGL_KEY_URL, VGL_KEY_FINGERPRINT and VGL_OFF_HINT come from the hook library (lib/virtualgl.sh).
VGL_REPO_URL=https://packagecloud.io/dcommander/virtualgl/rpm_any/rpm_any
VGL_KEY=${VGL_KEY:-/etc/pki/rpm-gpg/RPM-GPG-KEY-VirtualGL}
VGL_REPO=${VGL_REPO:-/etc/yum.repos.d/helios-virtualgl.repo}
VGL_PREFIX=${VGL_PREFIX:-/opt/VirtualGL} # where the VirtualGL package installs

runtime_packages() {
  local packages=()
  load_package_list packages
  banner "repositories: EPEL and CRB"
  enable_epel_crb
  banner "update the base image"
  # A plain upgrade only: the base image tag is pinned, but the image should carry the security
  # fixes published since; nothing is added or removed.
  dnf upgrade -y
  banner "runtime packages (${#packages[@]} from $HELIOS_PACKAGES)"
  # --allowerasing: the base image's curl-minimal makes way for the listed curl.
  dnf install -y --allowerasing --setopt=install_weak_deps=False "${packages[@]}"
}

virtualgl() {
  local fingerprint
  virtualgl_wanted || return 0
  banner "VirtualGL"
  virtualgl_fetch "$VGL_KEY_URL" "$VGL_KEY" "the VirtualGL project key" "$VGL_REPO_URL"
  fingerprint=$(gpg --show-keys --with-colons "$VGL_KEY" 2>/dev/null | awk -F: '/^fpr:/ {print $10; exit}')
  [[ $fingerprint == "$VGL_KEY_FINGERPRINT" ]] ||
    die "the key at $VGL_KEY_URL has fingerprint '$fingerprint', expected $VGL_KEY_FINGERPRINT: refusing to trust it"
  rpm --import "$VGL_KEY"
  # Packages must carry the pinned key's signature (gpgcheck); the metadata is served by the
  # repository host, whose own key is not pinned here, so the package signature is the check.
  cat >"$VGL_REPO" <<REPO
[helios-virtualgl]
name=VirtualGL official RPMs
baseurl=$VGL_REPO_URL/\$basearch
enabled=1
gpgcheck=1
repo_gpgcheck=0
gpgkey=file://$VGL_KEY
sslverify=1
REPO
  # The repository alone first, so a failure to read it is reported as its own.
  dnf makecache --repo helios-virtualgl ||
    die "dnf could not read the VirtualGL repository $VGL_REPO_URL (see dnf's messages above): retry when it is reachable, or $VGL_OFF_HINT"
  if dnf -q list --available --repo helios-virtualgl VirtualGL >/dev/null 2>&1; then
    dnf install -y --setopt=install_weak_deps=False VirtualGL ||
      die "dnf could not install VirtualGL from $VGL_REPO_URL (see dnf's messages above): retry when it is reachable, or $VGL_OFF_HINT"
    # Let every user reach the GPU through VirtualGL (no vglusers group in a container).
    "$VGL_PREFIX/bin/vglserver_config" +glx +s +f +t
  else
    log "no VirtualGL package for ${HELIOS_ARCH:-this arch} in $VGL_REPO_URL; vglrun will not be available"
  fi
  rm -f "$VGL_REPO"
}

main() {
  runtime_packages
  virtualgl
  banner "cleanup"
  dnf config-manager --set-disabled crb
  dnf remove -y epel-release
  rm -rf /tmp/* /var/tmp/* /var/log/dnf*.log /var/log/hawkey.log
  banner "system packages installed"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
