# shellcheck shell=bash
# Helios hook library, part packages: the package list of the steps that consume it: load_package_list.
#
# Mounted at /helios/hooks/lib/packages.sh for the scripts that use it, directly or through another
# part (pipeline/library.py); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- packages ------------------------------------------------------------------------------------

# load_package_list ARRAY [FILE]: the package names of FILE (default $HELIOS_PACKAGES, one a
# line, blank lines ignored) into the array variable named ARRAY; fails when there are none.
load_package_list() {
  local -n packages_out=$1
  local file=${2:-${HELIOS_PACKAGES:-}}
  [[ -n $file ]] || die "HELIOS_PACKAGES is not set: only a step that consumes the package list has one"
  [[ -s $file ]] || die "$file is missing or empty"
  mapfile -t packages_out < <(grep -v '^[[:space:]]*$' "$file")
  ((${#packages_out[@]} > 0)) || die "$file lists no package"
}
