#!/usr/bin/env bash
# Step 7 (kasm): kclient (the page shell, audio and view-only routes) at its pinned commit, patched
# and installed with its npm dependencies, ready to be packaged.
#
# Relies on:
#   KCLIENT_URL, KCLIENT_COMMIT, KCLIENT_VERSION   ([kclient] in pipeline/versions.toml)
#   /helios/hooks/kclient-*.patch                  applied in name order with `git apply`; a patch
#                                                  that does not apply fails the build
#   node and npm on PATH, with a C/C++ toolchain, make, python3 and PulseAudio headers for the
#   native pulseaudio2 module (the distro's step-6 kclient.sh); npm cache at /root/.npm
#   HELIOS_WEBRTC is not used: WebRTC lives in the web client (step 1), not in kclient
# Leaves behind:
#   /opt/helios/kclient           kclient with node_modules, without .git (step 8 packages it)
#   /opt/helios/kclient.version   "kclient Version: <version> (<commit>)"
set -euo pipefail

HOOKS_DIR=${HOOKS_DIR:-/helios/hooks}
DEST=${DEST:-/opt/helios/kclient}

banner() { printf '\n==== [helios step %s] %s ====\n' "${HELIOS_STEP:-7}" "$*"; }
die() { printf '[helios step %s] error: %s\n' "${HELIOS_STEP:-7}" "$*" >&2; exit 1; }

require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "$name is not set (it comes from pipeline/versions.toml)"
  done
}

# git_checkout URL COMMIT DIR: fetch exactly COMMIT (a full 40-hex id) and prove HEAD is it.
git_checkout() {
  local url=$1 commit=$2 dir=$3
  [[ $commit =~ ^[0-9a-f]{40}$ ]] || die "not a full commit id: '$commit'"
  rm -rf "$dir"
  git init -q "$dir"
  git -C "$dir" remote add origin "$url"
  git -C "$dir" fetch -q --depth 1 origin "$commit"
  git -C "$dir" -c advice.detachedHead=false checkout -q FETCH_HEAD
  [[ "$(git -C "$dir" rev-parse HEAD)" == "$commit" ]] || die "$url: HEAD is not $commit"
}

# node_prefix: the installation prefix of the node on PATH (where include/node lives).
node_prefix() {
  local node
  node=$(command -v node) || die "node is not on PATH (the distro's step-6 kclient.sh installs it)"
  node=$(readlink -f "$node")
  dirname "$(dirname "$node")"
}

main() {
  banner "kclient ${KCLIENT_VERSION:-?} (${KCLIENT_COMMIT:-?})"
  require_env KCLIENT_URL KCLIENT_COMMIT KCLIENT_VERSION
  command -v npm >/dev/null || die "npm is not on PATH (the distro's step-6 kclient.sh installs it)"

  git_checkout "$KCLIENT_URL" "$KCLIENT_COMMIT" "$DEST"
  local patch
  for patch in "$HOOKS_DIR"/kclient-*.patch; do
    [[ -e $patch ]] || continue
    echo "applying ${patch##*/}"
    git -C "$DEST" apply --whitespace=nowarn "$patch" || die "${patch##*/} does not apply to kclient $KCLIENT_VERSION"
  done
  rm -rf "$DEST/.git"

  # Build the native module against the headers of the node that will run it, never downloaded ones.
  local prefix
  prefix=$(node_prefix)
  if [[ -f "$prefix/include/node/node.h" ]]; then
    export npm_config_nodedir="$prefix"
  fi
  echo "node $(node --version), npm $(npm --version), headers: ${npm_config_nodedir:-node-gyp default}"

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
