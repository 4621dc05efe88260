# shellcheck shell=bash
# Helios hook library, part el9: EPEL 9 and CRB on EL9: enable_epel_crb.
#
# Mounted at /helios/hooks/lib/el9.sh for the scripts that use it, directly or through another
# part (pipeline/library.py); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- EL9 repositories (RHEL family, steps 2 and 9) -----------------------------------------------

# EPEL 9's signing key, "Fedora (epel9) <epel@fedoraproject.org>", by fingerprint, and where the
# epel-release package puts it.
EPEL9_KEY_FINGERPRINT=FF8AD1344597106ECE813B918A3872BF3228467C
EPEL9_KEY=/etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-9

# enable_epel_crb: switch on EPEL 9 and CRB (CodeReady Linux Builder, which EPEL builds against).
# epel-release comes from the distro's own extras repository, which dnf checks with the distro's
# key; the EPEL key it installs must then have the pinned fingerprint before rpm trusts it, so a
# changed or substituted key stops the build instead of vouching for what EPEL installs.
enable_epel_crb() {
  local key=${EPEL_KEY:-$EPEL9_KEY} fingerprint
  dnf install -y dnf-plugins-core epel-release
  [[ -f $key ]] || die "epel-release did not install $key"
  fingerprint=$(gpg --show-keys --with-colons "$key" 2>/dev/null | awk -F: '/^fpr:/ {print $10; exit}')
  [[ $fingerprint == "$EPEL9_KEY_FINGERPRINT" ]] ||
    die "the EPEL key $key has fingerprint '$fingerprint', not EPEL 9's $EPEL9_KEY_FINGERPRINT: do not build with it; check the distro's epel-release package"
  rpm --import "$key"
  dnf config-manager --set-enabled crb
}
