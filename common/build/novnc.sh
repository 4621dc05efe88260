#!/usr/bin/env bash
# Step 1 (web): build the KasmWeb (noVNC) client twice, interactive and view-only.
#
# Runs in the pinned Node image of the web stage (not in the distro), the same for every distro.
# Relies on:
#   KASMWEB_URL, KASMWEB_COMMIT   git source and full commit id ([kasmweb] in pipeline/versions.toml)
#   HELIOS_WEBRTC                 "false" applies the novnc-*webrtc-off*.patch files
#   /helios/hooks/novnc-*.patch   applied in name order with `git apply`; a patch whose name contains
#                                 "webrtc-off" only when HELIOS_WEBRTC=false, one whose name contains
#                                 "view-only" only to the view-only build; a patch that does not apply
#                                 fails the build
#   /helios/hooks/splash.jpg      optional; replaces the client's splash image
#   git, npm, node; npm cache at /root/.npm (a cache volume); /helios/hooks/lib.sh
# Leaves behind:
#   /helios/out/www/               the interactive client (the built dist tree KasmVNC serves)
#   /helios/out/www/view-only/     the view-only client
#   /helios/out/kasmweb.version    "KasmWeb Version: <commit>"
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

HOOKS_DIR=${HOOKS_DIR:-/helios/hooks}
OUT_DIR=${OUT_DIR:-/helios/out}
WORK_DIR=${WORK_DIR:-/tmp/kasmweb}

# select_patches KIND: the patch files for KIND (interactive|view-only), in name order.
select_patches() {
  local kind=$1 patch name
  for patch in "$HOOKS_DIR"/novnc-*.patch; do
    [[ -e $patch ]] || continue
    name=${patch##*/}
    if [[ $name == *webrtc-off* && ${HELIOS_WEBRTC:-true} != false ]]; then continue; fi
    if [[ $name == *view-only* && $kind != view-only ]]; then continue; fi
    printf '%s\n' "$patch"
  done
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
  require_env KASMWEB_URL KASMWEB_COMMIT
  local src="$WORK_DIR/src" patches=()

  git_checkout "$KASMWEB_URL" "$KASMWEB_COMMIT" "$src"
  if [[ -f "$HOOKS_DIR/splash.jpg" ]]; then
    cp "$HOOKS_DIR/splash.jpg" "$src/app/images/splash.jpg"
  fi

  banner "interactive client"
  mapfile -t patches < <(select_patches interactive)
  git_apply_patches "$src" "${patches[@]}"
  # Upstream ships no lockfile; install exactly what a lockfile pins when a patch provides one.
  if [[ -f "$src/package-lock.json" ]]; then
    (cd "$src" && npm ci --no-audit --no-fund)
  else
    (cd "$src" && npm install --no-audit --no-fund)
  fi
  build_client "$src" "$OUT_DIR/www"

  banner "view-only client"
  local all=() extra=() patch
  mapfile -t all < <(select_patches view-only)
  for patch in "${all[@]}"; do
    [[ " ${patches[*]} " == *" $patch "* ]] || extra+=("$patch")
  done
  git_apply_patches "$src" "${extra[@]}"
  rm -rf "$OUT_DIR/www/view-only"
  build_client "$src" "$OUT_DIR/www/view-only"

  printf 'KasmWeb Version: %s\n' "$KASMWEB_COMMIT" >"$OUT_DIR/kasmweb.version"
  rm -rf "$WORK_DIR"
  banner "web client ready in $OUT_DIR/www"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
