#!/usr/bin/env bash
# Step 6 (kasm), RHEL family: Node.js and the native build dependencies of kclient.
#
# Node.js is the official glibc build pinned in pipeline/versions.toml ([nodejs]), verified by its
# sha256 and unpacked into /opt/helios/node by install_nodejs of the hook library (no dnf module
# stream, no vendor setup script).
# Relies on: NODEJS_VERSION, NODEJS_URL, NODEJS_SHA256 (resolved for the target arch by the
#   pipeline); curl (curl-minimal of the base image is enough); /helios/hooks/lib.sh.
# Leaves behind:
#   /opt/helios/node                  the Node.js runtime with its headers (include/node, which
#                                     step 7 builds against); step 8 copies node into the image
#   /usr/local/bin/{node,npm,npx}     links to it, so node and npm are on PATH
#   gcc-c++, make, python3, pam-devel, pulseaudio-libs-devel, tar, xz   for kclient (step 7)
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

NODE_DIR=/opt/helios/node

require_env NODEJS_VERSION NODEJS_URL NODEJS_SHA256

banner "kclient native build dependencies"
dnf install -y --setopt=install_weak_deps=False \
  gcc-c++ make pam-devel pulseaudio-libs-devel python3 tar xz

banner "Node.js $NODEJS_VERSION: download and verify"
install_nodejs "$NODE_DIR"
banner "Node.js $(node --version), npm $(npm --version) in $NODE_DIR"
