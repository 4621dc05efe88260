#!/usr/bin/env bash
# Step 2 (kasm), Debian family: the packages needed to build libjpeg-turbo, KasmVNC and the X server.
#
# Meant for every apt distro of the family (Debian 13, Kali rolling, Ubuntu 24.04 and 22.04), on
# amd64 and arm64: the names below resolve against Debian 13's archive for both (tests/
# test_debian_packages.py) and, in each base image, against Kali's and Ubuntu's (the workflow's
# package-lists job); the sources are switched on however the base image lists them (deb822
# *.sources or one-line sources.list, enable_deb_src of the hook library).
# Relies on: HELIOS_STEP; the base image's apt sources (deb lines only is fine); /helios/hooks/lib.sh;
#   HELIOS_SNAPSHOT (optional: the distro's `snapshot`, which points those sources at the archive's snapshot).
# Leaves behind: deb-src entries next to the base image's sources (in /etc/apt, build stage only),
#   the X server's build dependencies (`apt-get build-dep xorg-server libxfont-dev`) and the tools
#   and headers listed below. webp and sharpyuv come from the distro's own libwebp-dev (Ubuntu
#   22.04's is too old: its kasm.d/60-libwebp.sh builds the pinned one). Mesa's DRI
#   drivers (libgl1-mesa-dri) are named explicitly: step 8 packs their swrast_dri.so. libcpuid
#   comes from the drop-in kasm.d/60-libcpuid.sh (the archive has it for x86 only).
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

export DEBIAN_FRONTEND=noninteractive
APT_ETC=${APT_ETC:-/etc/apt}

banner "enable source packages"
use_archive_snapshot "$APT_ETC"
enable_deb_src
apt-get update

banner "X server build dependencies"
apt-get build-dep -y xorg-server libxfont-dev

banner "KasmVNC and libjpeg-turbo build dependencies"
apt-get install -y --no-install-recommends \
  autoconf \
  automake \
  ca-certificates \
  cmake \
  curl \
  g++ \
  gcc \
  git \
  libavcodec-dev \
  libavformat-dev \
  libdrm-dev \
  libepoxy-dev \
  libfmt-dev \
  libfreetype-dev \
  libgbm-dev \
  libgif-dev \
  libgl1-mesa-dri \
  libgnutls28-dev \
  libjpeg-dev \
  libpciaccess-dev \
  libpng-dev \
  libssl-dev \
  libswscale-dev \
  libtbb-dev \
  libtiff-dev \
  libtool \
  libva-dev \
  libwebp-dev \
  libx11-dev \
  libxau-dev \
  libxcursor-dev \
  libxcvt-dev \
  libxdmcp-dev \
  libxext-dev \
  libxfont-dev \
  libxkbfile-dev \
  libxrandr-dev \
  libxshmfence-dev \
  libxtst-dev \
  libyuv-dev \
  make \
  meson \
  nasm \
  nettle-dev \
  patch \
  pkg-config \
  tar \
  wayland-protocols \
  xserver-xorg-dev \
  xz-utils \
  zlib1g-dev

banner "build dependencies installed"
