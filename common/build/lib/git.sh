# shellcheck shell=bash
# Helios hook library, part git: git sources at a full commit id, and patches that must apply: git_checkout, git_apply_patches.
#
# Mounted at /helios/hooks/lib/git.sh for the scripts that use it, directly or through another
# part (pipeline/library.py); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- git sources ---------------------------------------------------------------------------------

# git_checkout URL COMMIT DIR: DIR becomes a fresh checkout of exactly COMMIT (a full 40-hex id,
# never a branch or tag, which can move), proven by `git rev-parse HEAD`. From the mirror's bundle
# git/<owner>/<repo>/<COMMIT>.bundle when it has one: a bundle whose HEAD is not COMMIT, or that
# git cannot clone, is an error naming the entry.
git_checkout() {
  local url=$1 commit=$2 dir=$3 entry head
  [[ $commit =~ ^[0-9a-f]{40}$ ]] || die "not a full commit id: '$commit'"
  rm -rf "$dir"
  if [[ -n ${HELIOS_INPUTS:-} ]]; then
    entry=$HELIOS_INPUTS/$(_mirror_git_path "$url" "$commit") || exit 1
    if [[ -f $entry ]]; then
      log "${url##*/} $commit: from the input mirror ($entry)"
      git clone -q --no-checkout "$entry" "$dir" ||
        die "the input mirror entry $entry is corrupt: git cannot clone it as a bundle; replace it with \`helios inputs\` or delete it"
      head=$(git -C "$dir" rev-parse -q --verify "HEAD^{commit}") || head="no HEAD"
      [[ $head == "$commit" ]] ||
        die "the input mirror entry $entry is corrupt: its HEAD is $head, not the pinned commit $commit; replace it with \`helios inputs\` or delete it"
      # A bundle may hold only the pinned commit, without its parents: mark the clone shallow at
      # COMMIT, the state `fetch --depth 1` leaves, so `git log` and friends work on both paths.
      printf '%s\n' "$commit" >"$dir/.git/shallow"
      git -C "$dir" remote set-url origin "$url"
      git -C "$dir" -c advice.detachedHead=false checkout -q --detach "$commit"
      [[ "$(git -C "$dir" rev-parse HEAD)" == "$commit" ]] || die "$entry: HEAD is not $commit"
      return 0
    fi
  fi
  if _mirror_offline; then
    _mirror_missing "the git source $url" "commit $commit" "$(_mirror_git_path "$url" "$commit")"
  fi
  git init -q "$dir"
  git -C "$dir" remote add origin "$url"
  git -C "$dir" fetch -q --depth 1 origin "$commit" || die "could not fetch $commit from $url"
  git -C "$dir" -c advice.detachedHead=false checkout -q FETCH_HEAD
  [[ "$(git -C "$dir" rev-parse HEAD)" == "$commit" ]] || die "$url: HEAD is not $commit"
}

# git_apply_patches TREE PATCH...: apply each PATCH to the tree in order. A patch that does not
# apply fails the build: a half-patched tree is worse than a red build.
git_apply_patches() {
  local tree=$1 patch
  shift
  for patch in "$@"; do
    log "applying ${patch##*/}"
    git -C "$tree" apply --whitespace=nowarn "$patch" || die "${patch##*/} does not apply to $tree"
  done
}
