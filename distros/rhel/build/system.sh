#!/usr/bin/env bash
# Step 9 (system), RHEL family (Rocky Linux 9, AlmaLinux 9): runtime packages, VirtualGL, cleanup.
#
# Relies on:
#   $HELIOS_PACKAGES        one package name a line (common/packages.toml, list "rhel")
#   HELIOS_STEP, HELIOS_ARCH
#   /var/cache/dnf is a cache volume: nothing here cleans it or relies on its state
# Leaves behind:
#   the listed packages (EPEL, its key pinned by fingerprint, and CRB enabled while installing;
#   EPEL's repository definition is removed and CRB disabled afterwards, the installed packages
#   stay), upgraded base packages,
#   VirtualGL from its repository with every package checked against the project's signing key
#   (pinned by fingerprint; the repository file is removed afterwards), an empty /tmp.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

# The VirtualGL project's key for its official binaries, at a fixed commit of its key repository.
VGL_KEY_URL=https://raw.githubusercontent.com/VirtualGL/repo/c844ecf5a397338c46b9c03d14a400a156bc2354/VGL-GPG-KEY
VGL_KEY_FINGERPRINT=AE1A7BA4EFFF9A9987E1474C4BACCAB36E7FE9A1
VGL_KEY=/etc/pki/rpm-gpg/RPM-GPG-KEY-VirtualGL
VGL_REPO=/etc/yum.repos.d/helios-virtualgl.repo

packages=()
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

banner "VirtualGL"
# The same time-outs as the hook library's download: a stalled server must not hang the build.
curl -fsSL --connect-timeout "${HELIOS_DOWNLOAD_CONNECT_TIMEOUT:-30}" --speed-limit 1 \
  --speed-time "${HELIOS_DOWNLOAD_STALL_TIMEOUT:-60}" --retry 3 --retry-connrefused -o "$VGL_KEY" "$VGL_KEY_URL"
fingerprint=$(gpg --show-keys --with-colons "$VGL_KEY" 2>/dev/null | awk -F: '/^fpr:/ {print $10; exit}')
[[ $fingerprint == "$VGL_KEY_FINGERPRINT" ]] || die "VirtualGL key fingerprint is '$fingerprint', expected $VGL_KEY_FINGERPRINT"
rpm --import "$VGL_KEY"
# Packages must carry the pinned key's signature (gpgcheck); the metadata is served by the
# repository host, whose own key is not pinned here, so the package signature is the check.
cat >"$VGL_REPO" <<REPO
[helios-virtualgl]
name=VirtualGL official RPMs
baseurl=https://packagecloud.io/dcommander/virtualgl/rpm_any/rpm_any/\$basearch
enabled=1
gpgcheck=1
repo_gpgcheck=0
gpgkey=file://$VGL_KEY
sslverify=1
REPO
dnf install -y --setopt=install_weak_deps=False VirtualGL
# Let every user reach the GPU through VirtualGL (no vglusers group in a container).
/opt/VirtualGL/bin/vglserver_config +glx +s +f +t
rm -f "$VGL_REPO"

banner "cleanup"
dnf config-manager --set-disabled crb
dnf remove -y epel-release
rm -rf /tmp/* /var/tmp/* /var/log/dnf*.log /var/log/hawkey.log
banner "system packages installed"
