#!/bin/sh
# shellcheck shell=bash
# Step 2 (kasm), Alpine: the packages needed to build libjpeg-turbo, KasmVNC and the X server.
#
# The kasm stage starts from the bare Alpine base, which has no bash: the first lines are POSIX
# sh, install bash with apk and run this file again under bash (every later hook is bash, and the
# hook library needs it).
# Relies on: HELIOS_STEP; Alpine's signed main and community repositories of the base image; the
#   apk cache volume at /var/cache/apk (linked as /etc/apk/cache so apk reuses it);
#   /helios/hooks/lib.sh once under bash.
# Leaves behind (build stage only): bash, curl, a toolchain (alpine-sdk), cmake, meson, nasm and the
#   X, Mesa, webp and crypto headers below. webp and sharpyuv come from Alpine's libwebp-dev.
#   Mesa's DRI drivers (mesa-dri-gallium) are named explicitly: step 8 packs their swrast_dri.so.
#   util-macros gives step 5's autoreconf the xorg-macros.m4 that the X server's configure.ac
#   calls (XORG_MACROS_VERSION), named rather than left to another package's dependencies.
#   KasmVNC 1.5's CMakeLists.txt requires pkg-config modules libavcodec, libavformat, libavutil,
#   libswscale (ffmpeg-dev), libva and libva-drm (libva-dev), libcpuid, fmt and tbb, and the yuv
#   library. ffmpeg-dev, libva-dev, fmt-dev, onetbb-dev and libyuv-dev come from Alpine (not
#   checked here against 3.22's aarch64 index: only a real build shows it; KasmVNC's own builder
#   compiles cpuid, fmt, tbb and libyuv from unpinned sources instead), and Xvnc links them
#   dynamically: their runtime packages are in common/packages.toml's alpine list. libcpuid is
#   not taken from Alpine: its APKBUILD (community/libcpuid) builds for arch="x86 x86_64" only, so
#   kasm.d/60-libcpuid.sh builds the pinned release static on every architecture. Alpine's
#   libwebp-dev brings the libsharpyuv that Xvnc also links (libwebp 1.3 and newer have it).
set -eu
mkdir -p /var/cache/apk
[ -e /etc/apk/cache ] || ln -s /var/cache/apk /etc/apk/cache
if [ -z "${BASH_VERSION:-}" ]; then
  apk add bash
  exec bash "$0" "$@"
fi
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

banner "KasmVNC and X server build dependencies"
apk add \
  alpine-sdk \
  autoconf \
  automake \
  bash \
  ca-certificates \
  cmake \
  coreutils \
  curl \
  eudev-dev \
  ffmpeg-dev \
  fmt-dev \
  font-cursor-misc \
  font-misc-misc \
  font-util-dev \
  freetype-dev \
  git \
  grep \
  libdrm-dev \
  libepoxy-dev \
  libjpeg-turbo-dev \
  libpciaccess-dev \
  libtool \
  libva-dev \
  libwebp-dev \
  libx11-dev \
  libxau-dev \
  libxcb-dev \
  libxcursor-dev \
  libxcvt-dev \
  libxdmcp-dev \
  libxext-dev \
  libxfont2-dev \
  libxkbfile-dev \
  libxrandr-dev \
  libxshmfence-dev \
  libxtst-dev \
  libyuv-dev \
  linux-headers \
  mesa-dev \
  mesa-dri-gallium \
  meson \
  nasm \
  nettle-dev \
  onetbb-dev \
  openssl-dev \
  patch \
  pixman-dev \
  tar \
  util-macros \
  wayland-dev \
  wayland-protocols \
  xcb-util-dev \
  xcb-util-image-dev \
  xcb-util-keysyms-dev \
  xcb-util-renderutil-dev \
  xcb-util-wm-dev \
  xkbcomp \
  xkbcomp-dev \
  xkeyboard-config \
  xorg-server-dev \
  xorgproto \
  xtrans \
  xz

banner "build dependencies installed"
