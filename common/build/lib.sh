# shellcheck shell=bash
# Helios hook library: the shell functions the build hooks share.
#
# The pipeline mounts this file (common/build/lib.sh, or the copy in a user's hooks tree) beside
# every hook and every drop-in script, at /helios/hooks/lib.sh. A script sources it right after
# `set -euo pipefail`:
#
#   # shellcheck source=common/build/lib.sh
#   source "${HELIOS_LIB:-/helios/hooks/lib.sh}"
#
# HELIOS_LIB points the scripts at another copy (the tests use the repository's). Sourcing only
# defines functions: nothing runs, and nothing but bash is needed until a function is called, so
# the Alpine hooks that start as POSIX sh source it once they have installed bash and re-run
# themselves under it. Every function reports a failure through `die`, which ends the script with
# a message naming the step; a function called in $(...) ends only that subshell, which `set -e`
# then turns into the end of the script.
#
#   banner, log, die                   the step's log lines
#   require_env, require_tools         fail early on a missing variable or program
#   verify_sha256, download            pinned, verified downloads (input mirror, curl or wget)
#   fetch_url                          a network fetch with time-outs and bounded retries
#   git_checkout, git_apply_patches    a git source at a full commit id (input mirror or network);
#                                      patches that must apply
#   uname_arch, multiarch_triplet      HELIOS_ARCH (amd64|arm64) in upstream spellings
#   load_package_list                  step 9's /helios/packages.list into an array
#   install_release                    a verified release tarball unpacked, its programs linked
#   install_nodejs                     the pinned official Node.js build (step 6, glibc distros)
#   enable_epel_crb                    EPEL 9 (key pinned by fingerprint) and CRB on EL9
#   build_static_library               a pinned CMake library a distro lacks, static (step 2)
#   build_xorg_server                  the X server that becomes Xvnc (step 5)

# --- log -----------------------------------------------------------------------------------------

# banner MESSAGE...: a heading in the build log.
banner() { printf '\n==== [helios step %s] %s ====\n' "${HELIOS_STEP:-?}" "$*"; }

# log MESSAGE...: one line of progress.
log() { printf '[helios step %s] %s\n' "${HELIOS_STEP:-?}" "$*"; }

# die MESSAGE...: report on stderr and end the script.
die() {
  printf '[helios step %s] error: %s\n' "${HELIOS_STEP:-?}" "$*" >&2
  exit 1
}

# --- preconditions -------------------------------------------------------------------------------

# require_env NAME...: fail unless every NAME is set and not empty. Version variables come from
# pipeline/versions.toml through the sections the step declares (docs/hooks.md).
require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "$name is not set (the pipeline passes it from pipeline/versions.toml)"
  done
}

# require_tools TOOL...: fail unless every TOOL is on PATH.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is missing: install it in an earlier step (or common/packages.toml)"
  done
}

# --- downloads -----------------------------------------------------------------------------------

# verify_sha256 FILE EXPECTED: fail unless FILE has exactly the pinned sha256 (64 lower-case hex).
verify_sha256() {
  local file=$1 expected=$2 actual
  [[ $expected =~ ^[0-9a-f]{64}$ ]] || die "no valid sha256 pinned for ${file##*/}: '$expected'"
  [[ -f $file ]] || die "$file is missing"
  actual=$(sha256sum "$file" | cut -d' ' -f1)
  [[ $actual == "$expected" ]] || die "checksum mismatch for ${file##*/}: expected $expected, got $actual"
}

# --- the input mirror ----------------------------------------------------------------------------
#
# HELIOS_INPUTS names a local input mirror (docs/inputs.md): sha256/<hex> for files,
# git/<owner>/<repo>/<commit>.bundle for git sources. The pipeline mounts a step's own entries there
# read-only. `download` and `git_checkout` use an entry when the mirror has one, verify it exactly as
# they verify the network, and otherwise go to the network, unless HELIOS_OFFLINE=true, which makes
# a missing entry an error. An entry that is there but fails its check is always an error naming the
# entry, never a silent trip to the network: a corrupt mirror is a fault to repair (`helios inputs`
# replaces it), and hiding it would leave an offline build broken later.

# mirror_offline: true when HELIOS_OFFLINE says the network must not be used.
mirror_offline() { [[ ${HELIOS_OFFLINE:-false} == true ]]; }

# mirror_missing WHAT PIN PATH: the error of an offline build whose mirror lacks an input.
mirror_missing() {
  local what=$1 pin=$2 path=$3
  if [[ -z ${HELIOS_INPUTS:-} ]]; then
    die "offline build (HELIOS_OFFLINE=true) without a mirror: $what ($pin) needs $path in the input mirror, and HELIOS_INPUTS is not set"
  fi
  die "offline build (HELIOS_OFFLINE=true): $what ($pin) is not in the input mirror: expected $HELIOS_INPUTS/$path"
}

# mirror_git_path URL COMMIT: the mirror path of a git source, git/<owner>/<repo>/<commit>.bundle,
# owner and repo being the last two parts of URL's path (a trailing / and .git dropped).
mirror_git_path() {
  local url=$1 commit=$2 path owner repo
  path=${url#*://}
  path=${path#*/}
  path=${path%/}
  path=${path%.git}
  repo=${path##*/}
  owner=${path%/*}
  owner=${owner##*/}
  [[ -n $owner && -n $repo && $owner != "$path" ]] || die "cannot tell owner/repo from the git URL '$url'"
  echo "git/$owner/$repo/$commit.bundle"
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
  mirror_offline && mirror_missing "${url##*/} from $url" "sha256 $sha256" "sha256/$sha256"
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
      { rm -f "$dest"; die "could not download $url (tried $((retries + 1)) times)"; }
  elif command -v wget >/dev/null; then
    local -a limits=(-T "$stall") # BusyBox: -T bounds each network wait
    if wget --version 2>/dev/null | grep -q 'GNU Wget'; then
      limits=(--connect-timeout="$connect" --read-timeout="$stall" --tries=1)
    fi
    for ((attempt = 0; attempt <= retries; attempt++)); do
      ((attempt == 0)) || { log "${url##*/}: download failed, trying again ($attempt of $retries)"; sleep 2; }
      wget -q "${limits[@]}" -O "$dest" "$url" && return 0
    done
    rm -f "$dest"
    die "could not download $url (tried $((retries + 1)) times)"
  else
    die "neither curl nor wget is installed to download ${url##*/}"
  fi
}

# --- git sources ---------------------------------------------------------------------------------

# git_checkout URL COMMIT DIR: DIR becomes a fresh checkout of exactly COMMIT (a full 40-hex id,
# never a branch or tag, which can move), proven by `git rev-parse HEAD`. From the mirror's bundle
# git/<owner>/<repo>/<COMMIT>.bundle when it has one: a bundle whose HEAD is not COMMIT, or that
# git cannot clone, is an error naming the entry.
git_checkout() {
  local url=$1 commit=$2 dir=$3 entry head
  [[ $commit =~ ^[0-9a-f]{40}$ ]] || die "not a full commit id: '$commit'"
  rm -rf "$dir"
  if [[ -n ${HELIOS_INPUTS:-} ]]; then
    entry=$HELIOS_INPUTS/$(mirror_git_path "$url" "$commit") || exit 1
    if [[ -f $entry ]]; then
      log "${url##*/} $commit: from the input mirror ($entry)"
      git clone -q --no-checkout "$entry" "$dir" ||
        die "the input mirror entry $entry is corrupt: git cannot clone it as a bundle; replace it with \`helios inputs\` or delete it"
      head=$(git -C "$dir" rev-parse -q --verify "HEAD^{commit}") || head="no HEAD"
      [[ $head == "$commit" ]] ||
        die "the input mirror entry $entry is corrupt: its HEAD is $head, not the pinned commit $commit; replace it with \`helios inputs\` or delete it"
      # A bundle may hold only the pinned commit, without its parents: mark the clone shallow at
      # COMMIT, the state `fetch --depth 1` leaves, so `git log` and friends work on both paths.
      printf '%s\n' "$commit" >"$dir/.git/shallow"
      git -C "$dir" remote set-url origin "$url"
      git -C "$dir" -c advice.detachedHead=false checkout -q --detach "$commit"
      [[ "$(git -C "$dir" rev-parse HEAD)" == "$commit" ]] || die "$entry: HEAD is not $commit"
      return 0
    fi
  fi
  if mirror_offline; then
    mirror_missing "the git source $url" "commit $commit" "$(mirror_git_path "$url" "$commit")"
  fi
  git init -q "$dir"
  git -C "$dir" remote add origin "$url"
  git -C "$dir" fetch -q --depth 1 origin "$commit" || die "could not fetch $commit from $url"
  git -C "$dir" -c advice.detachedHead=false checkout -q FETCH_HEAD
  [[ "$(git -C "$dir" rev-parse HEAD)" == "$commit" ]] || die "$url: HEAD is not $commit"
}

# git_apply_patches TREE PATCH...: apply each PATCH to the tree in order. A patch that does not
# apply fails the build: a half-patched tree is worse than a red build.
git_apply_patches() {
  local tree=$1 patch
  shift
  for patch in "$@"; do
    log "applying ${patch##*/}"
    git -C "$tree" apply --whitespace=nowarn "$patch" || die "${patch##*/} does not apply to $tree"
  done
}

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

# --- packages ------------------------------------------------------------------------------------

# load_package_list ARRAY [FILE]: the package names of FILE (default /helios/packages.list, one a
# line, blank lines ignored) into the array variable named ARRAY; fails when there are none.
load_package_list() {
  local -n packages_out=$1
  local file=${2:-/helios/packages.list}
  [[ -s $file ]] || die "$file is missing or empty"
  mapfile -t packages_out < <(grep -v '^[[:space:]]*$' "$file")
  ((${#packages_out[@]} > 0)) || die "$file lists no package"
}

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

# --- libraries KasmVNC needs that a distro lacks (step 2) ----------------------------------------
#
# KasmVNC 1.5 finds its third-party libraries with pkg-config (libcpuid, fmt, libva...) and links
# -lwebp -lsharpyuv and -lturbojpeg by name, with no -L of its own. Where a distro has no usable
# package, build_static_library builds the pinned release as static, position-independent
# libraries in /usr/local, so nothing of it is needed at run time, and proves that pkg-config and
# the linker find it the way KasmVNC's build will.

# The prefix of the libraries built here (the build stage only; step 8 packs none of it).
STATIC_LIBRARY_PREFIX=/usr/local

# build_static_library SECTION "MODULE..." [CMAKE_ARG...]: the CMake project that [SECTION] of
# pipeline/versions.toml pins (SECTION_VERSION, SECTION_URL, SECTION_SHA256 in the environment),
# downloaded and verified, configured with the ARGs, built and installed into
# STATIC_LIBRARY_PREFIX. Fails unless pkg-config then reports each MODULE (the second argument
# is a space-separated list) at SECTION_VERSION and the linker finds its static libraries by
# name alone.
build_static_library() {
  local section=$1 modules=$2 var work version url sha256 module prefix=${STATIC_LIBRARY_PREFIX}
  shift 2
  var=${section^^}
  require_env "${var}_VERSION" "${var}_URL" "${var}_SHA256"
  version=${var}_VERSION url=${var}_URL sha256=${var}_SHA256
  version=${!version} url=${!url} sha256=${!sha256}
  work=${TMPDIR:-/tmp}/helios-$section
  rm -rf "$work"
  mkdir -p "$work/src"
  banner "$section $version: download and verify"
  download "$url" "$work/source.tar" "$sha256"
  tar -xf "$work/source.tar" --strip-components=1 --no-same-owner -C "$work/src"
  banner "$section $version: static build into $prefix"
  cmake -S "$work/src" -B "$work/build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DBUILD_SHARED_LIBS=OFF \
    "$@"
  cmake --build "$work/build" -j"$(nproc)"
  cmake --install "$work/build"
  pkgconfig_expose "$work/build/install_manifest.txt"
  for module in $modules; do
    static_library_check "$section" "$module" "$version"
  done
  rm -rf "$work"
}

# pkgconfig_expose MANIFEST: the .pc files a CMake install lists in MANIFEST, made visible to
# pkg-config's default search path. EL9's pkgconf looks only in /usr/lib64/pkgconfig and
# /usr/share/pkgconfig, never in /usr/local, and later steps get no PKG_CONFIG_PATH: each file is
# linked into the first default directory, unless one of them already holds it. A file there that
# is not such a link belongs to a distro package, and two copies of one module are an error.
pkgconfig_expose() {
  local manifest=$1 pc_path first pc target
  pc_path=$(pkg-config --variable pc_path pkg-config) || die "pkg-config cannot report its search path"
  first=${pc_path%%:*}
  # CMake ends the manifest without a newline: read the last line too.
  while IFS= read -r pc || [[ -n $pc ]]; do
    [[ $pc == *.pc ]] || continue
    case ":$pc_path:" in *":${pc%/*}:"*) continue ;; esac
    target=$first/${pc##*/}
    if [[ -e $target && ! -L $target ]]; then
      die "$target already exists (a distro package's): remove that -devel package from step 2, or the build would mix two copies of ${pc##*/}"
    fi
    mkdir -p "$first"
    ln -sfn "$pc" "$target"
    log "pkg-config: $target -> $pc"
  done <"$manifest"
}

# static_library_check SECTION MODULE VERSION: pkg-config reports MODULE at VERSION, and the
# linker finds each of its libraries as a static archive by name alone (-Wl,-Bstatic -lNAME, the
# way KasmVNC and Xvnc link them), with no -L.
static_library_check() {
  local section=$1 module=$2 version=$3 reported flags probe
  reported=$(pkg-config --modversion "$module" 2>/dev/null) ||
    die "$section: pkg-config does not find $module after the install"
  [[ $reported == "$version" ]] || die "$section: pkg-config reports $module $reported, expected $version"
  flags=$(pkg-config --libs-only-l "$module") || die "$section: pkg-config has no libraries for $module"
  probe=${TMPDIR:-/tmp}/helios-link-probe
  printf 'int main(void) { return 0; }\n' >"$probe.c"
  # shellcheck disable=SC2086 # the -l flags of the module, one word each
  cc "$probe.c" -o "$probe" -Wl,-Bstatic $flags -Wl,-Bdynamic ||
    die "$section: the linker does not find $flags as static libraries on its default search path"
  rm -f "$probe" "$probe.c"
  log "$section $version: pkg-config $module $reported, linker finds $flags"
}

# --- the X server (step 5) -----------------------------------------------------------------------

# Where X.Org publishes release tarballs; [xorg.sha256] in pipeline/versions.toml pins the .tar.gz.
XORG_ARCHIVE_URL=https://www.x.org/archive/individual/xserver

# xorg_series_patch VERSION: KasmVNC's patch (in its unix/ folder) for the X server series.
xorg_series_patch() {
  case $1 in
    21.1.*) echo xserver21.patch ;;
    1.20.*) echo xserver120.patch ;;
    *) die "X server $1 is not a series KasmVNC patches (21.1.x or 1.20.x)" ;;
  esac
}

# xorg_unpack VERSION SHA256 DIR: the verified release tarball unpacked over DIR.
xorg_unpack() {
  local version=$1 sha256=$2 dir=$3 tarball
  tarball=${TMPDIR:-/tmp}/xorg-server-$version.tar.gz
  download "$XORG_ARCHIVE_URL/xorg-server-$version.tar.gz" "$tarball" "$sha256"
  tar -xzf "$tarball" --strip-components=1 -C "$dir"
  rm -f "$tarball"
}

# xorg_patch VERSION DIR: KasmVNC's patches for the series, applied to the X server tree DIR
# (KasmVNC keeps them in DIR/..).
xorg_patch() {
  local version=$1 dir=$2 unix series
  unix=$(dirname "$dir")
  series=$(xorg_series_patch "$version")
  [[ -f $unix/$series ]] || die "$unix/$series is missing from the KasmVNC tree"
  patch -d "$dir" -Np1 -i "$unix/$series"
  if [[ $version == 1.20.* ]]; then
    # As KasmVNC's own build does for 1.20: the backported xkb fix (CVE-2022-2320), and the
    # follow-up patch that newer KasmVNC trees carry.
    [[ -f $unix/CVE-2022-2320-v1.20.patch ]] || die "$unix/CVE-2022-2320-v1.20.patch is missing"
    patch -d "$dir" -s -p0 -i "$unix/CVE-2022-2320-v1.20.patch"
    if [[ -f $unix/xserver120.7.patch ]]; then
      patch -d "$dir" -Np1 -i "$unix/xserver120.7.patch"
    fi
  fi
}

# xorg_font_macros DIR: font-util's autoconf macros (fontutil.m4) for the X server tree DIR, taken
# from the release's own aclocal.m4 into DIR/m4, where autoreconf looks first. configure.ac stops
# without them (XORG_FONT_MACROS_VERSION), and the package that ships them is no longer in every
# distro: EL9 keeps xorg-x11-font-utils out of BaseOS, AppStream and CRB. The release tarball
# carries the copy its maintainers generated configure with, so every distro uses the same macros.
xorg_font_macros() {
  local dir=$1 aclocal out
  aclocal=$dir/aclocal.m4
  out=$dir/m4/fontutil.m4
  # Taken once: autoreconf rewrites aclocal.m4 to include m4/fontutil.m4 instead of a copy.
  xorg_has_font_macros "$out" && return 0
  [[ -f $aclocal ]] || die "$aclocal is missing: is $dir an X server release tree?"
  mkdir -p "$dir/m4"
  # From the file's first line to XORG_FONTDIR, its last macro (font-util 1.1 and later).
  sed -n '/^dnl fontutil\.m4\./,/^AC_DEFUN(\[XORG_FONTDIR\]/p' "$aclocal" >"$out"
  xorg_has_font_macros "$out" ||
    die "$aclocal carries no complete copy of font-util's fontutil.m4 (from 'dnl fontutil.m4.' to XORG_FONTDIR)"
}

# xorg_has_font_macros FILE: whether FILE defines font-util's macros from first to last.
xorg_has_font_macros() {
  [[ -f $1 ]] && grep -q '^m4_defun(\[XORG_FONT_MACROS_VERSION\]' "$1" && grep -q '^AC_DEFUN(\[XORG_FONTDIR\]' "$1"
}

# xorg_configure VERSION [ARG...]: autoreconf and configure the X server tree of the current
# directory for Xvnc: prefix /opt/kasmweb, no other DDX, no libunwind; ARGs are added last.
xorg_configure() {
  local version=$1 lenient
  shift
  xorg_font_macros "$PWD"
  autoreconf -fi
  if [[ $version == 1.20.* ]]; then
    # 1.20 asks for Mesa's own version of gl.pc (>= 7.1.0); where libglvnd provides gl.pc (EL9)
    # it reports the GL API version (1.2) and configure stops. 21.1 already asks for gl >= 1.2.
    sed -i -e 's/LIBGL="gl >= 7\.1\.0"/LIBGL="gl >= 1.2"/' -e 's/LIBGL="gl >= 9\.2\.0"/LIBGL="gl >= 1.2"/' configure
  fi
  # Newer compilers turn old warnings into errors (array-bounds on GCC 12, pointer types on GCC 14);
  # the X server sources predate them, so keep those as warnings.
  lenient="-Wno-error=array-bounds -Wno-error=incompatible-pointer-types -Wno-error=implicit-function-declaration -Wno-error=int-conversion"
  # GCC 15 compiles C as C23 unless told otherwise (Kali rolling, Debian testing): bool, true and
  # false become keywords and `f()` means `f(void)`. The X server and KasmVNC's hw/vnc sources are
  # written for C17 and older, so keep the dialect GCC 14 and older defaulted to. CFLAGS come after
  # any -std that configure adds to CC, so this one wins.
  # --disable-libunwind: with libunwind's headers present (Debian's xorg-server build-deps bring
  # them) configure would link Xvnc against libunwind.so only for crash backtraces, one more
  # runtime library to ship. Both 1.20 and 21.1 know the option.
  ./configure \
    CFLAGS="-O2 -g -std=gnu17 $lenient" \
    --prefix=/opt/kasmweb \
    --with-xkb-path=/usr/share/X11/xkb \
    --with-xkb-output=/var/lib/xkb \
    --with-xkb-bin-directory=/usr/bin \
    --with-default-font-path="/usr/share/fonts/X11/misc,/usr/share/fonts/X11/cyrillic,/usr/share/fonts/X11/100dpi/:unscaled,/usr/share/fonts/X11/75dpi/:unscaled,/usr/share/fonts/X11/Type1,/usr/share/fonts/X11/100dpi,/usr/share/fonts/X11/75dpi,built-ins" \
    --with-sha1=libcrypto \
    --without-dtrace \
    --disable-libunwind \
    --disable-dri \
    --disable-dri2 \
    --enable-dri3 \
    --enable-glx \
    --disable-static \
    --disable-xinerama \
    --disable-xvfb \
    --disable-xnest \
    --disable-xorg \
    --disable-dmx \
    --disable-xwin \
    --disable-xephyr \
    --disable-kdrive \
    --disable-xwayland \
    --disable-config-hal \
    --disable-config-udev \
    "$@"
  # Generated Makefiles may still carry -Werror=array-bounds from configure's own checks.
  find . -name Makefile -exec sed -i 's/-Werror=array-bounds//g' {} +
}

# build_xorg_server [CONFIGURE_ARG...]: step 5. Downloads X server XORG_VERSION (verified against
# XORG_SHA256), unpacks it over SRC_DIR/unix/xserver (default SRC_DIR=/src, KasmVNC's tree from
# step 4), applies KasmVNC's patches for the series, configures it (extra ARGs last) and builds
# hw/vnc/Xvnc. Leaves the current directory in the X server tree.
build_xorg_server() {
  local src=${SRC_DIR:-/src} xserver
  xserver=$src/unix/xserver
  require_env XORG_VERSION XORG_SHA256
  [[ $XORG_SHA256 =~ ^[0-9a-f]{64}$ ]] || die "XORG_SHA256 is not a sha256 for X server $XORG_VERSION ([xorg.sha256] in pipeline/versions.toml)"
  [[ -d $xserver/hw/vnc ]] || die "$xserver/hw/vnc is missing: step 4 must leave the KasmVNC tree in $src"
  xorg_series_patch "$XORG_VERSION" >/dev/null

  banner "X server $XORG_VERSION: download and verify"
  xorg_unpack "$XORG_VERSION" "$XORG_SHA256" "$xserver"

  banner "X server $XORG_VERSION: KasmVNC patches"
  xorg_patch "$XORG_VERSION" "$xserver"

  banner "X server $XORG_VERSION: configure"
  cd "$xserver" || die "cannot enter $xserver"
  xorg_configure "$XORG_VERSION" "$@"

  banner "X server $XORG_VERSION: build"
  make -j"$(nproc)"
  [[ -x hw/vnc/Xvnc ]] || die "the build finished without hw/vnc/Xvnc"
  banner "Xvnc built: $xserver/hw/vnc/Xvnc"
}
