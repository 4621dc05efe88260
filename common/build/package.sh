#!/usr/bin/env bash
# Step 8 (kasm): pack everything the build produced into the runtime rootfs $HELIOS_OUT (/helios/out).
#
# Relies on:
#   /src                          KasmVNC built (step 4) with Xvnc in unix/xserver/hw/vnc (step 5)
#   $HELIOS_WEB (read-only)       step 1's output: www/ (with www/view-only/) and kasmweb.version
#   /opt/helios/kclient(.version) step 7's output
#   a Node.js runtime: /opt/helios/node (where step 6 unpacks the pinned official build), else the
#                     node on PATH (e.g. Alpine's own package; its shared libraries must then be in
#                     the runtime package list)
#   KASMVNC_VERSION, KASMVNC_COMMIT               ([kasmvnc])
#   NODEJS_VERSION                                ([nodejs])
#   HELIOS_ARCH (amd64|arm64); /helios/hooks/lib.sh
# Leaves behind, in $HELIOS_OUT:
#   usr/local/**                  KasmVNC's server tarball: Xvnc, vncserver and its perl modules,
#                                 share/kasmvnc/www (+ www/view-only), etc/kasmvnc, lib/kasmvnc
#   usr/share/kasmvnc, etc/kasmvnc, usr/lib/kasmvncserver   links to the /usr/local paths
#   opt/helios/kclient            kclient with node_modules
#   opt/helios/node/bin/node      the Node.js runtime for kclient
#   opt/helios/{kasmvnc,kasmweb,kclient,node}.version
# Kasm's prebuilt helper binaries (kasmbins) are not shipped: audio goes through kclient, nothing
# in the runtime starts them, and no checksum is published to verify them by.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

SRC_DIR=${SRC_DIR:-/src}
HELIOS_DIR=${HELIOS_DIR:-/opt/helios}

# find_dri_dir: the first directory with Mesa's swrast_dri.so, which KasmVNC's tarball ships.
find_dri_dir() {
  local dir
  for dir in "/usr/lib/$(multiarch_triplet)/dri" /usr/lib64/dri /usr/lib/dri /usr/lib/xorg/modules/dri; do
    if [[ -e "$dir/swrast_dri.so" ]]; then
      echo "$dir"
      return 0
    fi
  done
  die "no Mesa DRI directory with swrast_dri.so found; the distro's step-2 kasm.sh must install Mesa's DRI drivers"
}

# xorg_skeleton: the xorg.build/ tree that KasmVNC's `make servertarball` reads.
xorg_skeleton() {
  local xvnc="$SRC_DIR/unix/xserver/hw/vnc/Xvnc" build="$SRC_DIR/xorg.build"
  [[ -x $xvnc ]] || die "$xvnc is missing: the X server (step 5) did not build"
  rm -rf "$build"
  mkdir -p "$build/bin" "$build/man/man1" "$build/lib"
  ln -s "$xvnc" "$build/bin/Xvnc"
  : >"$build/man/man1/Xserver.1"
  cp "$SRC_DIR/unix/xserver/hw/vnc/Xvnc.man" "$build/man/man1/Xvnc.1"
  ln -s "$(find_dri_dir)" "$build/lib/dri"
}

# web_client: step 1's build becomes the www tree of the server tarball.
web_client() {
  [[ -f "$HELIOS_WEB/www/index.html" ]] || die "$HELIOS_WEB/www has no index.html: step 1 output is missing"
  [[ -f "$HELIOS_WEB/www/view-only/index.html" ]] || die "$HELIOS_WEB/www/view-only has no index.html"
  rm -rf "$SRC_DIR/builder/www"
  mkdir -p "$SRC_DIR/builder/www"
  cp -a "$HELIOS_WEB/www/." "$SRC_DIR/builder/www/"
}

server_tarball() {
  local tarball
  (cd "$SRC_DIR" && rm -f kasmvnc-Linux*.tar.gz && make servertarball)
  tarball=$(find "$SRC_DIR" -maxdepth 1 -name 'kasmvnc-Linux*.tar.gz' | head -n 1)
  [[ -n $tarball ]] || die "make servertarball produced no kasmvnc-Linux*.tar.gz"
  tar -xzf "$tarball" -C "$HELIOS_OUT"
  # No man pages in the image: `make servertarball` puts Xvnc's in usr/local/man and those that
  # KasmVNC's CMake installs (vncserver, vncpasswd, vncconfig, kasmxproxy) in usr/local/share/man.
  rm -rf "$HELIOS_OUT/usr/local/man" "$HELIOS_OUT/usr/local/share/man"
  mkdir -p "$HELIOS_OUT/usr/share" "$HELIOS_OUT/etc" "$HELIOS_OUT/usr/lib"
  ln -sfn /usr/local/share/kasmvnc "$HELIOS_OUT/usr/share/kasmvnc"
  ln -sfn /usr/local/etc/kasmvnc "$HELIOS_OUT/etc/kasmvnc"
  ln -sfn /usr/local/lib/kasmvnc "$HELIOS_OUT/usr/lib/kasmvncserver"
}

kclient() {
  [[ -f "$HELIOS_DIR/kclient/index.js" ]] || die "$HELIOS_DIR/kclient is missing: step 7 did not run"
  mkdir -p "$HELIOS_OUT/opt/helios"
  cp -a "$HELIOS_DIR/kclient" "$HELIOS_OUT/opt/helios/kclient"
  cp "$HELIOS_DIR/kclient.version" "$HELIOS_OUT/opt/helios/kclient.version"
}

# node_binary: the node executable to ship (the pinned build in /opt/helios/node when present).
node_binary() {
  if [[ -x "$HELIOS_DIR/node/bin/node" ]]; then
    echo "$HELIOS_DIR/node/bin/node"
  elif command -v node >/dev/null; then
    readlink -f "$(command -v node)"
  else
    die "no Node.js runtime: step 6 must install one in $HELIOS_DIR/node (or put node on PATH)"
  fi
}

node_runtime() {
  local node version
  node=$(node_binary)
  version=$("$node" --version)
  if [[ $version != "v$NODEJS_VERSION" ]]; then
    echo "note: shipping Node.js $version from $node (pinned: v$NODEJS_VERSION)"
  fi
  mkdir -p "$HELIOS_OUT/opt/helios/node/bin"
  cp "$node" "$HELIOS_OUT/opt/helios/node/bin/node"
  if [[ -f "$(dirname "$(dirname "$node")")/LICENSE" ]]; then
    cp "$(dirname "$(dirname "$node")")/LICENSE" "$HELIOS_OUT/opt/helios/node/LICENSE"
  fi
  printf 'Node.js Version: %s\n' "$version" >"$HELIOS_OUT/opt/helios/node.version"
}

main() {
  banner "packaging the runtime rootfs into ${HELIOS_OUT:-?} (${HELIOS_ARCH:-?})"
  require_env KASMVNC_VERSION KASMVNC_COMMIT NODEJS_VERSION HELIOS_ARCH HELIOS_WEB HELIOS_OUT
  multiarch_triplet >/dev/null
  mkdir -p "$HELIOS_OUT"

  banner "KasmVNC server tarball"
  xorg_skeleton
  web_client
  server_tarball
  mkdir -p "$HELIOS_OUT/opt/helios"
  printf 'KasmVNC Version: %s (%s)\n' "$KASMVNC_VERSION" "$KASMVNC_COMMIT" >"$HELIOS_OUT/opt/helios/kasmvnc.version"
  cp "$HELIOS_WEB/kasmweb.version" "$HELIOS_OUT/opt/helios/kasmweb.version"

  banner "kclient and its Node.js runtime"
  kclient
  node_runtime

  banner "rootfs ready in $HELIOS_OUT"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
