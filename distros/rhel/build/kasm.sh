#!/usr/bin/env bash
# Step 2 (kasm), RHEL family (Rocky Linux 9, AlmaLinux 9): the packages needed to build
# libjpeg-turbo, KasmVNC and the X server.
#
# Relies on: HELIOS_STEP; the base image's signed repositories. EPEL comes from the distro's own
#   epel-release package (extras repository, checked with the distro's key) and its key must have
#   the pinned fingerprint (enable_epel_crb); CRB is switched on for the -devel packages; nothing
#   is installed without a signature check.
# Leaves behind (build stage only): EPEL and CRB enabled, a C/C++ toolchain, autotools, cmake,
#   meson, nasm and the X, Mesa and crypto headers below, and Mesa's DRI drivers
#   (mesa-dri-drivers: weak dependencies are off, and step 8 packs their swrast_dri.so).
#   KasmVNC 1.5's CMakeLists.txt requires pkg-config modules libavcodec, libavformat, libavutil,
#   libswscale (headers only: it loads ffmpeg with dlopen at run time; EPEL's ffmpeg-free-devel,
#   5.1, the series KasmVNC's Debian bookworm build uses), libva, libva-drm and libdrm, fmt
#   (EPEL's 8.1: KasmVNC calls only fmt::format on strings), tbb (EL9's 2020.3, the release
#   KasmVNC's own build-tbb uses for older distros) and the yuv library (EPEL's libyuv, which has
#   the ARGBToI420/ARGBToNV12 KasmVNC calls). libcpuid (none in EL9) and libwebp with libsharpyuv
#   (EL9's 1.2 has none) are built static by kasm.d/50-kasmvnc-libraries.sh; libwebp-devel is
#   therefore NOT installed, its 1.2 headers and .pc would shadow them. KasmVNC asks for C++20:
#   EL9's GCC 11 implements what it uses (concepts, std::span, ranges::find, set::contains,
#   std::erase_if); KasmVNC's own Oracle 9 builder uses gcc-toolset-14 instead.
#   No xorg-x11-font-utils: EL9 ships it in none of BaseOS, AppStream or CRB, and the X server's
#   autoreconf needs only its fontutil.m4, which step 5 takes from the release tarball
#   (_xorg_font_macros in the hook library).
#   xorg-x11-util-macros: the X server's configure.ac calls XORG_MACROS_VERSION, so step 5's
#   autoreconf needs its xorg-macros.m4; named here rather than left to xorg-x11-server-devel's
#   dependencies.
#   libxcvt: X server 1.20 does not use it (it came with 21.1); it is installed from CRB when the
#   repositories have it, so a move of xorg_version to 21.1 finds it in place.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

banner "repositories: EPEL and CRB"
enable_epel_crb

banner "KasmVNC, libjpeg-turbo and X server build dependencies"
dnf install -y --setopt=install_weak_deps=False \
  autoconf \
  automake \
  bzip2 \
  cmake \
  diffutils \
  ffmpeg-free-devel \
  file \
  findutils \
  fmt-devel \
  freetype-devel \
  gcc \
  gcc-c++ \
  git \
  libX11-devel \
  libXau-devel \
  libXcursor-devel \
  libXdmcp-devel \
  libXext-devel \
  libXfont2-devel \
  libXrandr-devel \
  libXtst-devel \
  libdrm-devel \
  libepoxy-devel \
  libglvnd-devel \
  libjpeg-turbo-devel \
  libpciaccess-devel \
  libpng-devel \
  libtool \
  libva-devel \
  libxcb-devel \
  libxkbfile-devel \
  libxshmfence-devel \
  libyuv-devel \
  make \
  mesa-dri-drivers \
  mesa-libEGL-devel \
  mesa-libGL-devel \
  mesa-libgbm-devel \
  meson \
  nasm \
  nettle-devel \
  openssl-devel \
  patch \
  pixman-devel \
  pkgconf-pkg-config \
  tar \
  tbb-devel \
  wayland-devel \
  xcb-util-devel \
  xcb-util-image-devel \
  xcb-util-keysyms-devel \
  xcb-util-renderutil-devel \
  xcb-util-wm-devel \
  xkbcomp \
  xkeyboard-config \
  xorg-x11-proto-devel \
  xorg-x11-server-devel \
  xorg-x11-util-macros \
  xorg-x11-xtrans-devel \
  xz \
  zlib-devel

if dnf -q list --available libxcvt-devel >/dev/null 2>&1; then
  dnf install -y libxcvt-devel
else
  echo "libxcvt-devel is not in the enabled repositories (X server 1.20 does not need it)" >&2
fi
banner "build dependencies installed"
