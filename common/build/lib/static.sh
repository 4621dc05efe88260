# shellcheck shell=bash
# Helios hook library, part static: a pinned CMake library a distro lacks, built static: build_static_library.
#
# Mounted at /helios/hooks/lib/static.sh for the scripts that use it, directly or through another
# part (pipeline/library.py); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

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
  _pkgconfig_expose "$work/build/install_manifest.txt"
  for module in $modules; do
    _static_library_check "$section" "$module" "$version"
  done
  rm -rf "$work"
}

# _pkgconfig_expose MANIFEST: the .pc files a CMake install lists in MANIFEST, made visible to
# pkg-config's default search path. EL9's pkgconf looks only in /usr/lib64/pkgconfig and
# /usr/share/pkgconfig, never in /usr/local, and later steps get no PKG_CONFIG_PATH: each file is
# linked into the first default directory, unless one of them already holds it. A file there that
# is not such a link belongs to a distro package, and two copies of one module are an error.
_pkgconfig_expose() {
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

# _static_library_check SECTION MODULE VERSION: pkg-config reports MODULE at VERSION, and the
# linker finds each of its libraries as a static archive by name alone (-Wl,-Bstatic -lNAME, the
# way KasmVNC and Xvnc link them), with no -L.
_static_library_check() {
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
