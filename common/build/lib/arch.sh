# shellcheck shell=bash
# Helios hook library, part arch: HELIOS_ARCH (amd64|arm64) in upstream spellings: uname_arch, multiarch_triplet.
#
# Mounted at /helios/hooks/lib/arch.sh for the scripts that use it, directly or through another
# part (pipeline/library.py); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- architecture --------------------------------------------------------------------------------

# uname_arch: HELIOS_ARCH as the kernel and most upstreams spell it.
uname_arch() {
  case "${HELIOS_ARCH:-}" in
    amd64) echo x86_64 ;;
    arm64) echo aarch64 ;;
    *) die "unsupported HELIOS_ARCH '${HELIOS_ARCH:-}' (expected amd64 or arm64)" ;;
  esac
}

# multiarch_triplet: the Debian multiarch directory name for HELIOS_ARCH (x86_64-linux-gnu, ...).
multiarch_triplet() {
  local arch
  arch=$(uname_arch) || exit 1
  echo "$arch-linux-gnu"
}
