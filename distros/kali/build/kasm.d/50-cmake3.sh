#!/usr/bin/env bash
# Step 2 drop-in (kasm), Kali rolling: CMake 3 in front of the distro's CMake 4.
#
# Runs right after Debian's step-2 hook, which Kali inherits. Kali rolling ships CMake 4, which
# refuses KasmVNC's CMakeLists.txt (cmake_minimum_required(VERSION 2.8) and
# cmake_policy(SET CMP0022 OLD); CMAKE_POLICY_VERSION_MINIMUM does not cover the policy line).
# KasmVNC's own Kali builder installs a CMake 3 for this; here it is the official build pinned in
# pipeline/versions.toml ([cmake]), verified by its sha256 and linked into /usr/local/bin, which
# comes before /usr/bin on PATH, so steps 3 and 4 run it.
# Relies on: CMAKE_VERSION, CMAKE_URL, CMAKE_SHA256 (for the target arch); curl and tar (step 2);
#   /helios/hooks/lib.sh.
# Leaves behind (build stage only): /opt/helios/cmake and /usr/local/bin/{cmake,ctest,cpack}.
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

CMAKE_DIR=${CMAKE_DIR:-/opt/helios/cmake}
BIN_DIR=${BIN_DIR:-/usr/local/bin}

require_env CMAKE_VERSION CMAKE_URL CMAKE_SHA256
[[ $CMAKE_VERSION == 3.* ]] || die "[cmake] version is $CMAKE_VERSION: KasmVNC's CMakeLists.txt needs CMake 3"

banner "CMake $CMAKE_VERSION: download and verify"
install_release "$CMAKE_DIR" "$BIN_DIR" "$CMAKE_URL" "$CMAKE_SHA256" cmake ctest cpack
reported=$("$BIN_DIR/cmake" --version | head -n1)
[[ $reported == "cmake version $CMAKE_VERSION" ]] || die "$BIN_DIR/cmake reports '$reported', expected $CMAKE_VERSION"
banner "$reported in $BIN_DIR (the distro's own: $(/usr/bin/cmake --version 2>/dev/null | head -n1 || echo none))"
