# shellcheck shell=bash
# Helios hook library, part static: a pinned CMake library a distro lacks, built static: build_static_library.
#
# Mounted at /helios/hooks/lib/static.sh for the steps whose row in pipeline/order.py names it (or
# a part that needs it); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- libraries KasmVNC needs that a distro lacks (step 2) ----------------------------------------
#
# KasmVNC 1.5 finds its third-party libraries with pkg-config (libcpuid, fmt, libva...) and links
# -lwebp -lsharpyuv and -lturbojpeg by name, with no -L of its own. Where a distro has no usable
# package, build_static_library builds the pinned release as static, position-independent
# libraries in /usr/local, so nothing of it is needed at run time, and proves that pkg-config and
# the linker find it the way KasmVNC's build will: build_static_libcpuid and build_static_libwebp
# are the two recipes the distros' step-2 drop-ins call.

# The prefix of the libraries built here (the build stage only; step 8 packs none of it), and the
# linker flags that put its library folders in front of the distro's (lib on Debian and Alpine,
# lib64 on EL9, as CMake's GNUInstallDirs picks). The X server's configure gets the same flags
# (_xorg_configure), as KasmVNC's own build.sh links its ~/.local first.
STATIC_LIBRARY_PREFIX=/usr/local
STATIC_LIBRARY_LDFLAGS="-L/usr/local/lib -L/usr/local/lib64"

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

# _static_library_check SECTION MODULE VERSION: pkg-config reports MODULE at VERSION, and a link
# by name (-lNAME, the way KasmVNC and Xvnc link them, with STATIC_LIBRARY_LDFLAGS in front as
# the X server's configure puts them) takes each of its libraries from the static archive built
# here, not from a distro's copy of the same name (Ubuntu 22.04's libwebp-dev, say).
_static_library_check() {
  local section=$1 module=$2 version=$3 reported flags flag probe opened path taken=()
  reported=$(pkg-config --modversion "$module" 2>/dev/null) ||
    die "$section: pkg-config does not find $module after the install"
  [[ $reported == "$version" ]] || die "$section: pkg-config reports $module $reported, expected $version"
  flags=$(pkg-config --libs-only-l "$module") || die "$section: pkg-config has no libraries for $module"
  probe=${TMPDIR:-/tmp}/helios-link-probe
  printf 'int main(void) { return 0; }\n' >"$probe.c"
  # GNU ld's --verbose names every archive it opens ("attempt to open PATH succeeded").
  # shellcheck disable=SC2086 # the -L and -l flags, one word each
  opened=$(cc "$probe.c" -o "$probe" $STATIC_LIBRARY_LDFLAGS -Wl,--verbose -Wl,-Bstatic $flags -Wl,-Bdynamic 2>&1) ||
    die "$section: the linker does not find $flags as static libraries ($STATIC_LIBRARY_LDFLAGS first)"
  rm -f "$probe" "$probe.c"
  for flag in $flags; do
    path=$(sed -n "s|^attempt to open \(.*/lib${flag#-l}\.a\) succeeded\$|\1|p" <<<"$opened" | head -n 1)
    [[ $path == "$STATIC_LIBRARY_PREFIX"/* ]] ||
      die "$section: $flag links ${path:-no static archive}, not the one built into $STATIC_LIBRARY_PREFIX"
    taken+=("$path")
  done
  log "$section $version: pkg-config $module $reported, the linker takes ${taken[*]}"
}

# build_static_libcpuid: [libcpuid] as KasmVNC's builder/scripts/build-cpuid builds it: static and
# position-independent, without kernel drivers, tests or documentation (its cpuid_tool is built and
# installed too; like everything here it stays in the build stage).
build_static_libcpuid() {
  build_static_library libcpuid libcpuid \
    -DLIBCPUID_BUILD_DRIVERS=OFF \
    -DLIBCPUID_ENABLE_TESTS=OFF \
    -DLIBCPUID_ENABLE_DOCS=OFF
}

# build_static_libwebp: [libwebp] with its libsharpyuv (Xvnc links -lwebp -lsharpyuv), as
# KasmVNC's builder/scripts/build-webp builds it: the libraries only, none of the command-line
# tools (they would want libpng, libjpeg and giflib).
build_static_libwebp() {
  build_static_library libwebp "libwebp libsharpyuv" \
    -DWEBP_BUILD_ANIM_UTILS=OFF \
    -DWEBP_BUILD_CWEBP=OFF \
    -DWEBP_BUILD_DWEBP=OFF \
    -DWEBP_BUILD_GIF2WEBP=OFF \
    -DWEBP_BUILD_IMG2WEBP=OFF \
    -DWEBP_BUILD_VWEBP=OFF \
    -DWEBP_BUILD_WEBPINFO=OFF \
    -DWEBP_BUILD_WEBPMUX=OFF \
    -DWEBP_BUILD_EXTRAS=OFF
}
