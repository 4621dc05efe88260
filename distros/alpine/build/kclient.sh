#!/usr/bin/env bash
# Step 6 (kasm), Alpine: Node.js, its headers and the native build dependencies of kclient.
#
# The official Node.js builds are for glibc and do not run on musl, so Alpine uses its own nodejs
# and npm packages (Node 22 on Alpine 3.22; kclient needs >= 18), and nodejs-dev for the headers
# of that same node in /usr/include/node: step 7 points node-gyp there (npm_config_nodedir=/usr)
# instead of letting it download headers from nodejs.org, which nothing pins. To keep the contract
# of the other families, /opt/helios/node/bin/{node,npm,npx} are symlinks to /usr/bin/{node,npm,npx}:
# step 8 copies those links into the image, and the image installs Alpine's nodejs from the
# package list (common/packages.toml), so /opt/helios/node/bin/node resolves there as well.
# Alpine builds its nodejs with --shared-libuv (aports main/nodejs/APKBUILD), so nodejs-dev carries
# no uv.h, and kclient's native module (pulseaudio2's src/common.hh, and nan.h) includes <uv.h>:
# libuv-dev brings the system libuv's headers, the libuv that node itself links.
# NODEJS_* from pipeline/versions.toml are not used here.
# Relies on: HELIOS_STEP; the apk cache volume (/etc/apk/cache -> /var/cache/apk, made by step 2);
#   /helios/hooks/lib.sh.
# Leaves behind:
#   nodejs, nodejs-dev, libuv-dev, npm, build-base, python3, linux-pam-dev, pulseaudio-dev
#                                     (build stage)
#   /opt/helios/node/bin/{node,npm,npx}   symlinks to Alpine's Node.js
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

NODE_DIR=/opt/helios/node

banner "Node.js and kclient native build dependencies"
apk add build-base libuv-dev linux-pam-dev nodejs nodejs-dev npm pulseaudio-dev python3

mkdir -p "$NODE_DIR/bin"
for tool in node npm npx; do
  ln -sfn "/usr/bin/$tool" "$NODE_DIR/bin/$tool"
done
major=$(node -p 'process.versions.node.split(".")[0]')
[[ $major -ge 18 ]] || die "Alpine's Node.js is $(node --version); kclient needs 18 or newer"
[[ -f /usr/include/node/node.h ]] || die "nodejs-dev left no /usr/include/node/node.h"
[[ -f /usr/include/uv.h || -f /usr/include/node/uv.h ]] || die "no uv.h in /usr/include or /usr/include/node: kclient's native module includes it"
banner "Node.js $("$NODE_DIR/bin/node" --version), npm $("$NODE_DIR/bin/npm" --version) via $NODE_DIR/bin"
