#!/usr/bin/env bash
# Step 1 (web): build the KasmWeb (noVNC) client twice, interactive and view-only.
#
# Runs in the pinned Node image of the web stage (not in the distro), the same for every distro.
# Relies on:
#   KASMWEB_URL, KASMWEB_COMMIT   git source and full commit id ([kasmweb] in pipeline/versions.toml)
#   HELIOS_WEBRTC                 "false" applies the novnc-*webrtc-off*.patch files
#   $HELIOS_HOOKS/novnc-*.patch  applied in name order with `git apply`; a patch whose name contains
#                                 "webrtc-off" only when HELIOS_WEBRTC=false, one whose name contains
#                                 "view-only" only to the view-only build; a patch that does not apply
#                                 fails the build
#   $HELIOS_HOOKS/splash.jpg   optional; replaces the client's splash image
#   a package-lock.json added by a patch (novnc-05-lockfile.patch): dependencies are installed
#                                 with `npm ci` only; without a lockfile the hook stops
#   SOURCE_DATE_EPOCH             the time of every output file (the pipeline gives every step one;
#                                 run by hand without it, the KasmWeb commit's time)
#   git, npm, node; npm cache at /root/.npm (a cache volume); /helios/hooks/lib.sh
# Leaves behind:
#   $HELIOS_OUT/www/               the interactive client (the built dist tree KasmVNC serves)
#   $HELIOS_OUT/www/view-only/     the view-only client
#   $HELIOS_OUT/kasmweb.version    "KasmWeb Version: <commit>"
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

WORK_DIR=${WORK_DIR:-/tmp/kasmweb}

# select_patches KIND: the patch files for KIND (interactive|view-only), in name order.
select_patches() {
  local kind=$1 patch name
  for patch in "$HELIOS_HOOKS"/novnc-*.patch; do
    [[ -e $patch ]] || continue
    name=${patch##*/}
    if [[ $name == *webrtc-off* && ${HELIOS_WEBRTC:-true} != false ]]; then continue; fi
    if [[ $name == *view-only* && $kind != view-only ]]; then continue; fi
    printf '%s\n' "$patch"
  done
}

# install_dependencies TREE: exactly the dependency tree that TREE's package-lock.json pins.
# Upstream ships no lockfile and leaves most versions at "*", so without one `npm install` would
# build from whatever the registry holds that day: refuse instead.
install_dependencies() {
  local tree=$1
  [[ -f "$tree/package-lock.json" ]] ||
    die "no package-lock.json in $tree after the patches: a novnc-*lockfile*.patch must add one for KasmWeb $KASMWEB_COMMIT (see novnc-05-lockfile.patch for how to regenerate it)"
  node_trusts_system_cas
  (cd "$tree" && npm ci --no-audit --no-fund)
}

# pin_file_times DIR EPOCH: every file and directory under DIR gets the time EPOCH, so that the
# same inputs leave the same bytes, times included.
pin_file_times() {
  local dir=$1 epoch=$2
  [[ $epoch =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH is not a Unix time: '$epoch'"
  find "$dir" -exec touch -h -d "@$epoch" {} +
}

# build_client TREE DEST: production build of TREE, copied to DEST.
build_client() {
  local tree=$1 dest=$2
  rm -rf "$tree/dist"
  (cd "$tree" && npm run build)
  [[ -f "$tree/dist/index.html" ]] || die "the build left no dist/index.html"
  mkdir -p "$dest"
  cp -a "$tree/dist/." "$dest/"
}

main() {
  banner "KasmWeb client ${KASMWEB_COMMIT:-?} (WebRTC: ${HELIOS_WEBRTC:-true})"
  require_env KASMWEB_URL KASMWEB_COMMIT HELIOS_HOOKS HELIOS_OUT
  local src="$WORK_DIR/src" patches=()

  git_checkout "$KASMWEB_URL" "$KASMWEB_COMMIT" "$src"
  # Build tools that stamp times read SOURCE_DATE_EPOCH; default to the commit's own time.
  SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$src" show -s --format=%ct HEAD)}
  export SOURCE_DATE_EPOCH
  if [[ -f "$HELIOS_HOOKS/splash.jpg" ]]; then
    cp "$HELIOS_HOOKS/splash.jpg" "$src/app/images/splash.jpg"
  fi

  banner "interactive client"
  mapfile -t patches < <(select_patches interactive)
  git_apply_patches "$src" "${patches[@]}"
  install_dependencies "$src"
  build_client "$src" "$HELIOS_OUT/www"

  banner "view-only client"
  local all=() extra=() patch
  mapfile -t all < <(select_patches view-only)
  for patch in "${all[@]}"; do
    [[ " ${patches[*]} " == *" $patch "* ]] || extra+=("$patch")
  done
  git_apply_patches "$src" "${extra[@]}"
  rm -rf "$HELIOS_OUT/www/view-only"
  build_client "$src" "$HELIOS_OUT/www/view-only"

  printf 'KasmWeb Version: %s\n' "$KASMWEB_COMMIT" >"$HELIOS_OUT/kasmweb.version"
  pin_file_times "$HELIOS_OUT" "$SOURCE_DATE_EPOCH"
  rm -rf "$WORK_DIR"
  banner "web client ready in $HELIOS_OUT/www"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
