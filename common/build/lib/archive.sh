# shellcheck shell=bash
# Helios hook library, part archive: a distro archive as it was at a moment: use_archive_snapshot.
#
# Mounted at /helios/hooks/lib/archive.sh for the steps whose row in pipeline/order.py names it (or
# a part that needs it); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- archive snapshots (apt family, steps 2 and 9) -----------------------------------------------

# The first moment snapshot.ubuntu.com keeps (its own page: "any date and time after 1 March 2023").
UBUNTU_FIRST_SNAPSHOT=20230301T000000Z

# _snapshot_uri URI ID: the URI of the archive at URI as it was at snapshot ID; fails for an
# archive whose snapshots no service Helios knows keeps. Debian's archives (debian,
# debian-security) on any debian.org host, official mirrors included, are kept by
# snapshot.debian.org; Ubuntu's (ubuntu, ubuntu-ports) on any ubuntu.com host by
# snapshot.ubuntu.com; a URI already at one of them gets the new ID. Plain http, as the base
# images' own sources use: they have no CA certificates yet, and apt checks the signed Release
# files anyway.
_snapshot_uri() {
  local uri=${1%/} id=$2 host path
  [[ $uri =~ ^https?://([^/]+)(/.*)?$ ]] || return 1
  host=${BASH_REMATCH[1]} path=${BASH_REMATCH[2]}
  case $host in
    snapshot.debian.org) path=${path#/archive} ;;
    snapshot.ubuntu.com) ;;
    *) path=$path/ ;; # a plain archive: its whole path is the archive's name
  esac
  path=${path#/}
  path=${path%%/*}
  case $host/$path in
    debian.org/debian | debian.org/debian-security | *.debian.org/debian | *.debian.org/debian-security)
      echo "http://snapshot.debian.org/archive/$path/$id/"
      ;;
    ubuntu.com/ubuntu | ubuntu.com/ubuntu-ports | *.ubuntu.com/ubuntu | *.ubuntu.com/ubuntu-ports)
      echo "http://snapshot.ubuntu.com/$path/$id/"
      ;;
    *) return 1 ;;
  esac
}

# _snapshot_of URI ID FILE: _snapshot_uri, or the end of the step saying which archive has none.
_snapshot_of() {
  local uri=$1 id=$2 file=$3 snapshot
  snapshot=$(_snapshot_uri "$uri" "$id") ||
    die "$file names the archive $uri, which no snapshot service Helios knows keeps (snapshot.debian.org for Debian's archives, snapshot.ubuntu.com for Ubuntu's): remove snapshot from the distro's distro.toml, or build from a base image whose sources name one of those archives"
  if [[ $snapshot == http://snapshot.ubuntu.com/* && $id < $UBUNTU_FIRST_SNAPSHOT ]]; then
    die "snapshot $id is older than the first snapshot of Ubuntu's archive ($UBUNTU_FIRST_SNAPSHOT): set snapshot in the distro's distro.toml to 2023-03-01T00:00:00Z or later"
  fi
  echo "$snapshot"
}

# _snapshot_deb822 FILE ID: every URIs field of the deb822 sources FILE at snapshot ID, and
# Check-Valid-Until: no in each of its entries (a snapshot's Release files are past their date).
_snapshot_deb822() {
  local file=$1 id=$2 where=$1 line field uri snapshot uris has_uris=false has_check=false
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ -z ${line//[[:space:]]/} ]]; then # the end of an entry
      if [[ $has_uris == true && $has_check == false ]]; then echo "Check-Valid-Until: no"; fi
      has_uris=false has_check=false
      echo "$line"
      continue
    fi
    field=${line%%:*}
    case ${field,,} in
      uris)
        uris=()
        for uri in ${line#*:}; do
          snapshot=$(_snapshot_of "$uri" "$id" "$where") || return 1
          uris+=("$snapshot")
        done
        echo "$field: ${uris[*]}"
        has_uris=true
        ;;
      check-valid-until)
        echo "$field: no"
        has_check=true
        ;;
      *) echo "$line" ;;
    esac
  done <"$file"
  if [[ $has_uris == true && $has_check == false ]]; then echo "Check-Valid-Until: no"; fi
}

# _snapshot_one_line FILE ID: every deb and deb-src line of the one-line sources FILE at snapshot
# ID, with the option check-valid-until=no.
_snapshot_one_line() {
  local file=$1 id=$2 where=$1 line indent kind option options uri rest kept source
  # The parts of a one-line source: indent, type, [options], URI, the rest (suite and components).
  source='^([[:space:]]*)(deb|deb-src)[[:space:]]+(\[([^]]*)\][[:space:]]+)?([^[:space:]]+)(.*)$'
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ ! $line =~ $source ]]; then
      echo "$line"
      continue
    fi
    indent=${BASH_REMATCH[1]} kind=${BASH_REMATCH[2]} options=${BASH_REMATCH[4]}
    uri=${BASH_REMATCH[5]} rest=${BASH_REMATCH[6]}
    kept=()
    for option in $options; do
      [[ $option == check-valid-until=* ]] || kept+=("$option")
    done
    kept+=(check-valid-until=no)
    uri=$(_snapshot_of "$uri" "$id" "$where") || return 1
    echo "$indent$kind [${kept[*]}] $uri$rest"
  done <"$file"
}

# _snapshot_file FILE ID: the sources FILE, deb822 (*.sources) or one-line, at snapshot ID.
_snapshot_file() {
  if [[ $1 == *.sources ]]; then
    _snapshot_deb822 "$@"
  else
    _snapshot_one_line "$@"
  fi
}

# use_archive_snapshot [APT_ETC]: point every apt source of APT_ETC (default /etc/apt) at the
# snapshot HELIOS_SNAPSHOT of its archive (YYYYMMDDTHHMMSSZ, from the distro's `snapshot`), so the
# step installs what the archive held at that moment. Without HELIOS_SNAPSHOT: nothing changes.
use_archive_snapshot() {
  local etc=${1:-/etc/apt} id=${HELIOS_SNAPSHOT:-} file
  [[ -n $id ]] || return 0
  [[ $id =~ ^[0-9]{8}T[0-9]{6}Z$ ]] ||
    die "HELIOS_SNAPSHOT is '$id', not a snapshot id like 20260601T000000Z (the pipeline makes it from snapshot in distro.toml)"
  shopt -s nullglob
  local files=("$etc"/sources.list "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources)
  shopt -u nullglob
  # Every file is rendered before any is changed: an archive without snapshots changes none.
  local rendered=true
  for file in "${files[@]}"; do
    [[ -f $file ]] || continue
    if ! _snapshot_file "$file" "$id" >"$file.helios-snapshot"; then
      rendered=false
      break
    fi
  done
  for file in "${files[@]}"; do
    if [[ $rendered == true && -f $file.helios-snapshot ]]; then
      cat "$file.helios-snapshot" >"$file" # in place: the file keeps its owner and mode
    fi
    rm -f "$file.helios-snapshot"
  done
  [[ $rendered == true ]] || exit 1
  log "apt sources at snapshot $id: $(grep -hv '^[[:space:]]*#' "${files[@]}" | grep -oE 'http://snapshot\.[a-z.]+/[^ ]+' | sort -u | tr '\n' ' ')"
}
