# shellcheck shell=bash
# Helios hook library, part virtualgl: step 9's VirtualGL switch and downloads: virtualgl_wanted, virtualgl_fetch.
#
# Mounted at /helios/hooks/lib/virtualgl.sh for the steps whose row in pipeline/order.py names it (or
# a part that needs it); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- VirtualGL (step 9, Debian and RHEL families) ------------------------------------------------

# The VirtualGL project's key for its official binaries, at a fixed commit of its key repository,
# and its fingerprint: every family checks what it installs against this key.
# shellcheck disable=SC2034 # read by the families' step-9 hooks
VGL_KEY_URL=https://raw.githubusercontent.com/VirtualGL/repo/c844ecf5a397338c46b9c03d14a400a156bc2354/VGL-GPG-KEY
# shellcheck disable=SC2034 # read by the families' step-9 hooks
VGL_KEY_FINGERPRINT=AE1A7BA4EFFF9A9987E1474C4BACCAB36E7FE9A1
VGL_OFF_HINT="to build without VirtualGL, set 'virtualgl = false' in the distro's distro.toml"

# virtualgl_wanted: whether step 9 installs VirtualGL, from HELIOS_VIRTUALGL (the distro.toml key
# virtualgl, default true). Logs the skip when false; any other value ends the step.
virtualgl_wanted() {
  case ${HELIOS_VIRTUALGL:-true} in
    true) return 0 ;;
    false)
      log "VirtualGL skipped: the distro sets virtualgl = false (HELIOS_VIRTUALGL=false)"
      return 1
      ;;
    *) die "HELIOS_VIRTUALGL is '${HELIOS_VIRTUALGL}', expected true or false (the distro.toml key virtualgl)" ;;
  esac
}

# virtualgl_fetch URL DEST WHAT REPOSITORY: URL into DEST, or end the step saying that WHAT could
# not be fetched from the VirtualGL repository REPOSITORY, and how to build without it. The same
# time-outs as `download`: a stalled server must not hang the build.
virtualgl_fetch() {
  local url=$1 dest=$2 what=$3 repository=$4 rc=0
  curl -fsSL --connect-timeout "${HELIOS_DOWNLOAD_CONNECT_TIMEOUT:-30}" --speed-limit 1 \
    --speed-time "${HELIOS_DOWNLOAD_STALL_TIMEOUT:-60}" --retry 3 --retry-connrefused -o "$dest" "$url" || rc=$?
  ((rc == 0)) || die "could not fetch $what from $url (curl exit $rc): the VirtualGL repository $repository must be reachable from the build; retry when it is, or $VGL_OFF_HINT"
}
