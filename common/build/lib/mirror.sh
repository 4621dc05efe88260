# shellcheck shell=bash
# Helios hook library, part mirror: the input mirror's rules, shared by download.sh and git.sh (library-internal).
#
# Mounted at /helios/hooks/lib/mirror.sh for the scripts that use it, directly or through another
# part (pipeline/library.py); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- the input mirror ----------------------------------------------------------------------------
#
# HELIOS_INPUTS names a local input mirror (docs/inputs.md): sha256/<hex> for files,
# git/<owner>/<repo>/<commit>.bundle for git sources. The pipeline mounts a step's own entries there
# read-only. `download` and `git_checkout` use an entry when the mirror has one, verify it exactly as
# they verify the network, and otherwise go to the network, unless HELIOS_OFFLINE=true, which makes
# a missing entry an error. An entry that is there but fails its check is always an error naming the
# entry, never a silent trip to the network: a corrupt mirror is a fault to repair (`helios inputs`
# replaces it), and hiding it would leave an offline build broken later.

# _mirror_offline: true when HELIOS_OFFLINE says the network must not be used.
_mirror_offline() { [[ ${HELIOS_OFFLINE:-false} == true ]]; }

# _mirror_missing WHAT PIN PATH: the error of an offline build whose mirror lacks an input.
_mirror_missing() {
  local what=$1 pin=$2 path=$3
  if [[ -z ${HELIOS_INPUTS:-} ]]; then
    die "offline build (HELIOS_OFFLINE=true) without a mirror: $what ($pin) needs $path in the input mirror, and HELIOS_INPUTS is not set"
  fi
  die "offline build (HELIOS_OFFLINE=true): $what ($pin) is not in the input mirror: expected $HELIOS_INPUTS/$path"
}

# _mirror_git_path URL COMMIT: the mirror path of a git source, git/<owner>/<repo>/<commit>.bundle,
# owner and repo being the last two parts of URL's path (a trailing / and .git dropped).
_mirror_git_path() {
  local url=$1 commit=$2 path owner repo
  path=${url#*://}
  path=${path#*/}
  path=${path%/}
  path=${path%.git}
  repo=${path##*/}
  owner=${path%/*}
  owner=${owner##*/}
  [[ -n $owner && -n $repo && $owner != "$path" ]] || die "cannot tell owner/repo from the git URL '$url'"
  echo "git/$owner/$repo/$commit.bundle"
}
