# shellcheck shell=bash
# Helios hook library: the shell functions the build hooks share.
#
# This file is a loader: it sources every part of the library present in lib/ beside it. The parts
# live in common/build/lib/<part>.sh, and the pipeline mounts only the parts a script uses (read
# from the script by pipeline/library.py: the functions it runs and the constants it expands, with
# the parts those use) at /helios/hooks/lib/, beside this file at /helios/hooks/lib.sh, so an edit
# of one part re-runs only the scripts that use it. A script sources it right after
# `set -euo pipefail`:
#
#   # shellcheck source=common/build/lib.sh
#   source "${HELIOS_LIB:-/helios/hooks/lib.sh}"
#
# HELIOS_LIB (set by the pipeline) points the scripts at it; the tests point it at the repository's
# copy, which loads every part. Sourcing only defines functions: nothing runs, and nothing but bash
# is needed until a function is called. Every function reports a failure through `die`, which ends
# the script with a message naming the step. Functions whose names start with _ are internal.
#
#   part      functions (docs/hooks.md)
#   log       banner, log, die, require_env, require_tools              (every step)
#   download  verify_sha256, download, fetch_url
#   git       git_checkout, git_apply_patches
#   arch      uname_arch, multiarch_triplet
#   packages  load_package_list
#   apt       enable_deb_src, apt_has_candidate
#   release   install_release, install_nodejs
#   el9       enable_epel_crb
#   archive   use_archive_snapshot
#   static    build_static_library, build_static_libcpuid, build_static_libwebp
#   xorg      build_xorg_server
#   node      node_trusts_system_cas
#   virtualgl virtualgl_wanted, virtualgl_fetch
#   mirror    (internal: the input-mirror rules of download and git)

_helios_part=${BASH_SOURCE[0]%/*}
[[ $_helios_part != "${BASH_SOURCE[0]}" ]] || _helios_part=.
for _helios_part in "$_helios_part"/lib/*.sh; do
  # shellcheck source=/dev/null
  [[ ! -f $_helios_part ]] || source "$_helios_part"
done
unset _helios_part
