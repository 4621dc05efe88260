#!/usr/bin/env bash
# Step 6 (kasm), Debian family: Node.js and the native build dependencies of kclient.
#
# Node.js is the official glibc build pinned in pipeline/versions.toml ([nodejs]), verified by its
# sha256 and unpacked into /opt/helios/node by install_nodejs of the hook library: the distros' own
# nodejs is too old on Ubuntu 22.04 (kclient needs Node >= 18) and the same runtime on every distro
# keeps kclient's native modules and step 8's copy simple.
# Relies on: NODEJS_VERSION, NODEJS_URL, NODEJS_SHA256 (resolved for the target arch by the
#   pipeline); curl or wget and xz-utils (step 2); /helios/hooks/lib.sh.
# Leaves behind:
#   /opt/helios/node                  the Node.js runtime with its headers (include/node, which
#                                     step 7 builds against); step 8 copies node into the image
#   /usr/local/bin/{node,npm,npx}     links to it, so node and npm are on PATH
#   g++, make, python3, libpam0g-dev, libpulse-dev   for kclient's native modules (step 7)
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

NODE_DIR=/opt/helios/node
export DEBIAN_FRONTEND=noninteractive

require_env NODEJS_VERSION NODEJS_URL NODEJS_SHA256

banner "kclient native build dependencies"
apt-get update
apt-get install -y --no-install-recommends \
  ca-certificates curl g++ libpam0g-dev libpulse-dev make python3 xz-utils

banner "Node.js $NODEJS_VERSION: download and verify"
install_nodejs "$NODE_DIR"
banner "Node.js $(node --version), npm $(npm --version) in $NODE_DIR"
