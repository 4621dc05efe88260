#!/usr/bin/env bash
# Step 9 drop-in (Debian family): the shared libraries that Xvnc of KasmVNC 1.5 links from step 2's
# development packages.
#
# Their runtime packages are named after the library's soname, which differs per release
# (libfmt10 on Debian 13, libfmt9 on Ubuntu 24.04, libfmt8 on 22.04), so no single name in
# common/packages.toml fits the whole family. Each -dev package depends on exactly the runtime
# package of the library it links, so this takes that dependency from the same archive step 2
# built against, and installs only the runtime half. Step 11 then checks that Xvnc finds every
# library it links.
# Relies on: the apt sources and lists of step 9 (system.sh ran `apt-get update`);
#   HELIOS_ARCH; /helios/hooks/lib.sh.
# Leaves behind: the runtime packages below, without recommends.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

# The -dev packages of step 2 (distros/debian/build/kasm.sh and kasm.d/) whose libraries Xvnc
# links dynamically.
LINKED_DEV_PACKAGES=(libcpuid-dev libfmt-dev libtbb-dev libyuv-dev)
# Those that step 2 builds static from its pinned release where the archive lacks them for this
# architecture (libcpuid on arm64: kasm.d/60-libcpuid.sh asks apt_has_candidate too).
STATIC_WHERE_MISSING=(libcpuid-dev)

export DEBIAN_FRONTEND=noninteractive

# runtime_packages DEV...: the library packages each DEV package depends on, one a line.
runtime_packages() {
  local dev found
  for dev in "$@"; do
    if [[ " ${STATIC_WHERE_MISSING[*]} " == *" $dev "* ]] && ! apt_has_candidate "$dev"; then
      log "no $dev for ${HELIOS_ARCH:-this architecture} in the archive: step 2 linked it static, nothing to install" >&2
      continue
    fi
    found=$(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "$dev" 2>/dev/null |
      awk '$1 == "Depends:" && $2 ~ /^lib/ && $2 !~ /-dev$/ {print $2}') || true
    [[ -n $found ]] || die "apt knows no library package that $dev depends on: is $dev in this release's archive?"
    printf '%s\n' "$found"
  done
}

banner "KasmVNC 1.5's linked libraries"
listing=$(runtime_packages "${LINKED_DEV_PACKAGES[@]}")
packages=()
mapfile -t packages < <(sort -u <<<"$listing")
log "installing ${packages[*]}"
apt-get install -y --no-install-recommends "${packages[@]}"
