# shellcheck shell=bash
# Helios hook library, part xorg: the X server that becomes Xvnc: build_xorg_server.
#
# Mounted at /helios/hooks/lib/xorg.sh for the steps whose row in pipeline/order.py names it (or
# a part that needs it); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- the X server (step 5) -----------------------------------------------------------------------

# Where X.Org publishes release tarballs; [xorg.sha256] in pipeline/versions.toml pins the .tar.gz.
XORG_ARCHIVE_URL=https://www.x.org/archive/individual/xserver
# Linker flags of the X server's build: the static libraries of /usr/local (step 3's libjpeg-turbo,
# the step-2 drop-ins' libcpuid and libwebp; lib/static.sh's STATIC_LIBRARY_LDFLAGS) come before a
# distro's copy of the same name, such as Ubuntu 22.04's libwebp 1.2, which has no libsharpyuv.
XORG_LDFLAGS="-L/usr/local/lib -L/usr/local/lib64"

# _xorg_series_patch VERSION: KasmVNC's patch (in its unix/ folder) for the X server series.
_xorg_series_patch() {
  case $1 in
    21.1.*) echo xserver21.patch ;;
    1.20.*) echo xserver120.patch ;;
    *) die "X server $1 is not a series KasmVNC patches (21.1.x or 1.20.x)" ;;
  esac
}

# _xorg_unpack VERSION SHA256 DIR: the verified release tarball unpacked over DIR.
_xorg_unpack() {
  local version=$1 sha256=$2 dir=$3 tarball
  tarball=${TMPDIR:-/tmp}/xorg-server-$version.tar.gz
  download "$XORG_ARCHIVE_URL/xorg-server-$version.tar.gz" "$tarball" "$sha256"
  tar -xzf "$tarball" --strip-components=1 -C "$dir"
  rm -f "$tarball"
}

# _xorg_patch VERSION DIR: KasmVNC's patches for the series, applied to the X server tree DIR
# (KasmVNC keeps them in DIR/..).
_xorg_patch() {
  local version=$1 dir=$2 unix series
  unix=$(dirname "$dir")
  series=$(_xorg_series_patch "$version")
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

# _xorg_font_macros DIR: font-util's autoconf macros (fontutil.m4) for the X server tree DIR, taken
# from the release's own aclocal.m4 into DIR/m4, where autoreconf looks first. configure.ac stops
# without them (XORG_FONT_MACROS_VERSION), and the package that ships them is no longer in every
# distro: EL9 keeps xorg-x11-font-utils out of BaseOS, AppStream and CRB. The release tarball
# carries the copy its maintainers generated configure with, so every distro uses the same macros.
_xorg_font_macros() {
  local dir=$1 aclocal out
  aclocal=$dir/aclocal.m4
  out=$dir/m4/fontutil.m4
  # Taken once: autoreconf rewrites aclocal.m4 to include m4/fontutil.m4 instead of a copy.
  _xorg_has_font_macros "$out" && return 0
  [[ -f $aclocal ]] || die "$aclocal is missing: is $dir an X server release tree?"
  mkdir -p "$dir/m4"
  # From the file's first line to XORG_FONTDIR, its last macro (font-util 1.1 and later).
  sed -n '/^dnl fontutil\.m4\./,/^AC_DEFUN(\[XORG_FONTDIR\]/p' "$aclocal" >"$out"
  _xorg_has_font_macros "$out" ||
    die "$aclocal carries no complete copy of font-util's fontutil.m4 (from 'dnl fontutil.m4.' to XORG_FONTDIR)"
}

# _xorg_has_font_macros FILE: whether FILE defines font-util's macros from first to last.
_xorg_has_font_macros() {
  [[ -f $1 ]] && grep -q '^m4_defun(\[XORG_FONT_MACROS_VERSION\]' "$1" && grep -q '^AC_DEFUN(\[XORG_FONTDIR\]' "$1"
}

# _xorg_configure VERSION [ARG...]: autoreconf and configure the X server tree of the current
# directory for Xvnc: prefix /opt/kasmweb, no other DDX, no libunwind; ARGs are added last.
_xorg_configure() {
  local version=$1 lenient
  shift
  _xorg_font_macros "$PWD"
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
    LDFLAGS="$XORG_LDFLAGS" \
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
  _xorg_series_patch "$XORG_VERSION" >/dev/null

  banner "X server $XORG_VERSION: download and verify"
  _xorg_unpack "$XORG_VERSION" "$XORG_SHA256" "$xserver"

  banner "X server $XORG_VERSION: KasmVNC patches"
  _xorg_patch "$XORG_VERSION" "$xserver"

  banner "X server $XORG_VERSION: configure"
  cd "$xserver" || die "cannot enter $xserver"
  _xorg_configure "$XORG_VERSION" "$@"

  banner "X server $XORG_VERSION: build"
  make -j"$(nproc)"
  [[ -x hw/vnc/Xvnc ]] || die "the build finished without hw/vnc/Xvnc"
  banner "Xvnc built: $xserver/hw/vnc/Xvnc"
}
