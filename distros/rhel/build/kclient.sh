#!/usr/bin/env bash
# Step 6 (kasm), RHEL family: Node.js and the native build dependencies of kclient.
#
# Node.js is the official glibc build pinned in pipeline/versions.toml ([nodejs]), verified by its
# sha256 and unpacked into /opt/helios/node (no dnf module stream, no vendor setup script).
# Relies on: NODEJS_VERSION, NODEJS_URL, NODEJS_SHA256 (resolved for the target arch by the
#   pipeline); curl (curl-minimal of the base image is enough), xz and tar (step 2).
# Leaves behind:
#   /opt/helios/node                  the Node.js runtime (step 8 copies it into the image)
#   /usr/local/bin/{node,npm,npx}     links to it, so node and npm are on PATH
#   gcc-c++, make, python3, pam-devel, pulseaudio-libs-devel   for kclient's native modules
set -euo pipefail

NODE_DIR=/opt/helios/node

banner() { printf '\n==== [helios step %s] %s ====\n' "${HELIOS_STEP:-6}" "$*"; }
die() { printf '[helios step %s] error: %s\n' "${HELIOS_STEP:-6}" "$*" >&2; exit 1; }

[[ -n ${NODEJS_VERSION:-} && -n ${NODEJS_URL:-} ]] || die "NODEJS_VERSION/NODEJS_URL are not set ([nodejs] in pipeline/versions.toml)"
[[ ${NODEJS_SHA256:-} =~ ^[0-9a-f]{64}$ ]] || die "NODEJS_SHA256 is not a sha256 ([nodejs] in pipeline/versions.toml)"

banner "kclient native build dependencies"
dnf install -y --setopt=install_weak_deps=False \
  gcc-c++ make pam-devel pulseaudio-libs-devel python3 tar xz

banner "Node.js $NODEJS_VERSION: download and verify"
tarball=/tmp/node-v${NODEJS_VERSION}.tar.xz
curl -fsSL --retry 3 --retry-delay 2 -o "$tarball" "$NODEJS_URL"
echo "${NODEJS_SHA256}  ${tarball}" | sha256sum -c - || die "sha256 mismatch for $NODEJS_URL"
rm -rf "$NODE_DIR"
mkdir -p "$NODE_DIR"
tar -xJf "$tarball" --strip-components=1 --no-same-owner -C "$NODE_DIR"
rm -f "$tarball"

for tool in node npm npx; do
  ln -sfn "$NODE_DIR/bin/$tool" "/usr/local/bin/$tool"
done
[[ "$(node --version)" == "v${NODEJS_VERSION}" ]] || die "node reports $(node --version), expected v${NODEJS_VERSION}"
banner "Node.js $(node --version), npm $(npm --version) in $NODE_DIR"
