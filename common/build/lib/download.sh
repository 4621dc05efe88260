# shellcheck shell=bash
# Helios hook library, part download: pinned, verified downloads: verify_sha256, download, fetch_url.
#
# Mounted at /helios/hooks/lib/download.sh for the scripts that use it, directly or through another
# part (pipeline/library.py); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- downloads -----------------------------------------------------------------------------------

# verify_sha256 FILE EXPECTED: fail unless FILE has exactly the pinned sha256 (64 lower-case hex).
verify_sha256() {
  local file=$1 expected=$2 actual
  [[ $expected =~ ^[0-9a-f]{64}$ ]] || die "no valid sha256 pinned for ${file##*/}: '$expected'"
  [[ -f $file ]] || die "$file is missing"
  actual=$(sha256sum "$file" | cut -d' ' -f1)
  [[ $actual == "$expected" ]] || die "checksum mismatch for ${file##*/}: expected $expected, got $actual"
}

# download URL DEST SHA256: fetch URL to DEST and verify it before anything reads it; from the
# mirror's sha256/<SHA256> when it has that entry. Refuses to start without a pinned sum; a file
# that does not match is removed.
download() {
  local url=$1 dest=$2 sha256=$3 entry
  [[ $sha256 =~ ^[0-9a-f]{64}$ ]] || die "refusing to download ${url##*/}: no sha256 pinned in pipeline/versions.toml"
  mkdir -p "$(dirname "$dest")"
  entry=${HELIOS_INPUTS:+$HELIOS_INPUTS/sha256/$sha256}
  if [[ -n $entry && -f $entry ]]; then
    log "${url##*/}: from the input mirror ($entry)"
    cp "$entry" "$dest" || die "could not copy the mirror entry $entry"
    if ! (verify_sha256 "$dest" "$sha256"); then
      rm -f "$dest"
      die "the input mirror entry $entry is corrupt: its content does not have sha256 $sha256 (${url##*/}); replace it with \`helios inputs\` or delete it"
    fi
    return 0
  fi
  _mirror_offline && _mirror_missing "${url##*/} from $url" "sha256 $sha256" "sha256/$sha256"
  fetch_url "$url" "$dest"
  if ! (verify_sha256 "$dest" "$sha256"); then
    rm -f "$dest"
    exit 1
  fi
}

# fetch_url URL DEST: URL into DEST over the network, never hanging and retrying a bounded number
# of times: a connection that cannot be made within HELIOS_DOWNLOAD_CONNECT_TIMEOUT seconds (30),
# a transfer without a byte for HELIOS_DOWNLOAD_STALL_TIMEOUT seconds (60), a refused connection or
# a body cut short are tried again, HELIOS_DOWNLOAD_RETRIES more times (4). No check here: callers
# verify DEST before use (`download` does).
fetch_url() {
  local url=$1 dest=$2 connect=${HELIOS_DOWNLOAD_CONNECT_TIMEOUT:-30}
  local stall=${HELIOS_DOWNLOAD_STALL_TIMEOUT:-60} retries=${HELIOS_DOWNLOAD_RETRIES:-4} attempt
  local -a retry_all=()
  [[ $connect =~ ^[1-9][0-9]*$ && $stall =~ ^[1-9][0-9]*$ && $retries =~ ^[0-9]+$ ]] ||
    die "HELIOS_DOWNLOAD_CONNECT_TIMEOUT, _STALL_TIMEOUT and _RETRIES must be whole numbers of seconds and tries"
  if command -v curl >/dev/null; then
    # --retry alone skips refused connections and cut bodies (exit 7 and 18); curl 7.71+ (every
    # supported base) can retry all errors, an older one still retries refusals and time-outs.
    if curl --retry-all-errors --version >/dev/null 2>&1; then retry_all=(--retry-all-errors); fi
    curl -fsSL --connect-timeout "$connect" --speed-limit 1 --speed-time "$stall" \
      --retry "$retries" --retry-delay 2 --retry-connrefused "${retry_all[@]}" -o "$dest" "$url" ||
      {
        rm -f "$dest"
        die "could not download $url (tried $((retries + 1)) times)"
      }
  elif command -v wget >/dev/null; then
    local -a limits=(-T "$stall") # BusyBox: -T bounds each network wait
    if wget --version 2>/dev/null | grep -q 'GNU Wget'; then
      limits=(--connect-timeout="$connect" --read-timeout="$stall" --tries=1)
    fi
    for ((attempt = 0; attempt <= retries; attempt++)); do
      ((attempt == 0)) || {
        log "${url##*/}: download failed, trying again ($attempt of $retries)"
        sleep 2
      }
      wget -q "${limits[@]}" -O "$dest" "$url" && return 0
    done
    rm -f "$dest"
    die "could not download $url (tried $((retries + 1)) times)"
  else
    die "neither curl nor wget is installed to download ${url##*/}"
  fi
}
