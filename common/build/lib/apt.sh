# shellcheck shell=bash
# Helios hook library, part apt: a Debian-family archive's sources and offer: enable_deb_src, apt_has_candidate.
#
# Mounted at /helios/hooks/lib/apt.sh for the scripts that use it, directly or through another
# part (pipeline/library.py); /helios/hooks/lib.sh sources every part present. Functions whose name
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

# enable_deb_src: add source entries mirroring every binary entry of APT_ETC (default /etc/apt),
# for `apt-get build-dep`, however the base image lists them (deb822 *.sources or one-line
# sources.list).
enable_deb_src() {
  local etc=${APT_ETC:-/etc/apt} file
  shopt -s nullglob
  for file in "$etc"/sources.list.d/*.sources; do
    sed -Ei 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' "$file"
  done
  shopt -u nullglob
  if [[ -f $etc/sources.list ]]; then
    # One-line format (Kali, Ubuntu 22.04): copy each active "deb" line as "deb-src".
    sed -En 's/^deb([[:space:]])/deb-src\1/p' "$etc/sources.list" >"$etc/sources.list.d/helios-deb-src.list"
  fi
}
