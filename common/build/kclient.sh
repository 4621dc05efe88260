#!/usr/bin/env bash
# Step 7 (kasm): kclient (the page shell, audio and view-only routes) at its pinned commit, patched
# and installed with its npm dependencies, ready to be packaged.
#
# Relies on:
#   KCLIENT_URL, KCLIENT_COMMIT, KCLIENT_VERSION   ([kclient] in pipeline/versions.toml)
#   $HELIOS_HOOKS/kclient-*.patch                  applied in name order with `git apply`; a patch
#                                                  that does not apply fails the build
#   HELIOS_FILE_TRANSFER                           true (distro.toml file_transfer = true): also
#                                                  apply kclient-*-file-transfer.patch, kclient's
#                                                  file manager for the user's home; false or unset:
#                                                  skip them, so no file server ships
#   node and npm on PATH, the headers of that same node (<prefix>/include/node: the official
#   build has them, Alpine's nodejs-dev puts them in /usr/include/node), a C/C++ toolchain, make,
#   python3 and PulseAudio headers for the native pulseaudio2 module (the distro's step-6
#   kclient.sh); npm cache at /root/.npm; /helios/hooks/lib.sh
#   HELIOS_WEBRTC is not used: WebRTC lives in the web client (step 1), not in kclient
# Leaves behind:
#   /opt/helios/kclient           kclient with node_modules, without .git (step 8 packages it)
#   /opt/helios/kclient.version   "kclient Version: <version> (<commit>)"
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

DEST=${DEST:-/opt/helios/kclient}

# node_headers_prefix: the installation prefix of the node on PATH, which must hold that node's
# headers in include/node (node-gyp's nodedir).
node_headers_prefix() {
  local node prefix
  node=$(command -v node) || die "node is not on PATH (the distro's step-6 kclient.sh installs it)"
  prefix=$(dirname "$(dirname "$(readlink -f "$node")")")
  [[ -f $prefix/include/node/node.h ]] || die "no Node.js headers in $prefix/include/node: the distro's step-6 kclient.sh must install them"
  echo "$prefix"
}

# kclient_patches DIR: the patches to apply, one a line, in name order: every kclient-*.patch of
# DIR, but the file-transfer ones (kclient-*-file-transfer.patch) only with HELIOS_FILE_TRANSFER=true.
kclient_patches() {
  local dir=$1 transfer=${HELIOS_FILE_TRANSFER:-false} patch
  while IFS= read -r patch; do
    if [[ $patch == *-file-transfer.patch && $transfer != true ]]; then
      log "not applying ${patch##*/}: file_transfer is off, no file server ships" >&2
      continue
    fi
    printf '%s\n' "$patch"
  done < <(compgen -G "$dir/kclient-*.patch" | LC_ALL=C sort)
}

main() {
  banner "kclient ${KCLIENT_VERSION:-?} (${KCLIENT_COMMIT:-?})"
  require_env KCLIENT_URL KCLIENT_COMMIT KCLIENT_VERSION HELIOS_HOOKS
  command -v npm >/dev/null || die "npm is not on PATH (the distro's step-6 kclient.sh installs it)"
  case ${HELIOS_FILE_TRANSFER:-false} in
    true | false) ;;
    *) die "HELIOS_FILE_TRANSFER is '$HELIOS_FILE_TRANSFER', not true or false (file_transfer in distro.toml)" ;;
  esac

  git_checkout "$KCLIENT_URL" "$KCLIENT_COMMIT" "$DEST"
  local patches=()
  mapfile -t patches < <(kclient_patches "$HELIOS_HOOKS")
  ((${#patches[@]} > 0)) || die "no kclient-*.patch in $HELIOS_HOOKS"
  git_apply_patches "$DEST" "${patches[@]}"
  rm -rf "$DEST/.git"

  # Build the native module against the headers of the node that will run it. Without them
  # node-gyp would download headers from nodejs.org, unpinned: refuse instead.
  export npm_config_nodedir
  npm_config_nodedir=$(node_headers_prefix)
  log "node $(node --version), npm $(npm --version), headers in $npm_config_nodedir/include/node"
  node_trusts_system_cas

  if [[ -f "$DEST/package-lock.json" ]]; then
    (cd "$DEST" && npm ci --omit=dev --no-audit --no-fund)
  else
    (cd "$DEST" && npm install --omit=dev --no-audit --no-fund)
  fi
  (cd "$DEST" && node -e "require('pulseaudio2')") || die "the native pulseaudio2 module did not build"

  printf 'kclient Version: %s (%s)\n' "$KCLIENT_VERSION" "$KCLIENT_COMMIT" >"$(dirname "$DEST")/kclient.version"
  banner "kclient ready in $DEST"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
