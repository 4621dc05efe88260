# shellcheck shell=bash
# Helios hook library, part apt: what a Debian-family archive offers: apt_has_candidate.
#
# Mounted at /helios/hooks/lib/apt.sh for the steps whose row in pipeline/order.py names it (or
# a part that needs it); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- the archive ---------------------------------------------------------------------------------

# apt_has_candidate NAME: whether apt's lists (after `apt-get update`) hold a version of NAME that
# apt would install for this architecture. Steps 2 and 9 of the Debian family ask the same question
# of the same archive, so they agree on what step 2 builds from source (libcpuid on arm64).
apt_has_candidate() {
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
  [[ -n $candidate && $candidate != "(none)" ]]
}
