# shellcheck shell=bash
# Helios hook library, part release: verified release tarballs: install_release, install_nodejs.
#
# Mounted at /helios/hooks/lib/release.sh for the scripts that use it, directly or through another
# part (pipeline/library.py); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- release trees -------------------------------------------------------------------------------

# install_release DIR BIN_DIR URL SHA256 TOOL...: the release tarball URL (.tar.gz or .tar.xz, one
# top folder), verified against SHA256, unpacked into DIR (emptied first), and each TOOL of its
# bin/ linked into BIN_DIR.
install_release() {
  local dir=$1 bin_dir=$2 url=$3 sha256=$4 tarball tool
  shift 4
  tarball=${TMPDIR:-/tmp}/${url##*/}
  download "$url" "$tarball" "$sha256"
  rm -rf "$dir"
  mkdir -p "$dir" "$bin_dir"
  tar -xf "$tarball" --strip-components=1 --no-same-owner -C "$dir"
  rm -f "$tarball"
  for tool in "$@"; do
    [[ -e "$dir/bin/$tool" ]] || die "${url##*/} has no bin/$tool"
    ln -sfn "$dir/bin/$tool" "$bin_dir/$tool"
  done
}

# --- Node.js (step 6) ----------------------------------------------------------------------------

# install_nodejs DIR [BIN_DIR]: the official Node.js build NODEJS_URL, verified against
# NODEJS_SHA256, unpacked into DIR (emptied first), with node, npm and npx linked into BIN_DIR
# (default /usr/local/bin). Fails unless the unpacked node reports NODEJS_VERSION. glibc only:
# the official builds do not run on musl (Alpine uses its own nodejs package).
install_nodejs() {
  local dir=$1 bin_dir=${2:-/usr/local/bin} version
  require_env NODEJS_VERSION NODEJS_URL NODEJS_SHA256
  install_release "$dir" "$bin_dir" "$NODEJS_URL" "$NODEJS_SHA256" node npm npx
  version=$("$dir/bin/node" --version)
  [[ $version == "v$NODEJS_VERSION" ]] || die "node reports $version, expected v$NODEJS_VERSION"
}
