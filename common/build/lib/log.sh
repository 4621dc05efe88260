# shellcheck shell=bash
# Helios hook library, part log: the step's log lines and early checks: banner, log, die, require_env, require_tools.
# Every other part uses it, so every script that uses the library gets it.
#
# Mounted at /helios/hooks/lib/log.sh for the scripts that use it, directly or through another
# part (pipeline/library.py); /helios/hooks/lib.sh sources every part present. Functions whose name
# starts with _ are internal to the library: hooks call the others (docs/hooks.md).

# --- log -----------------------------------------------------------------------------------------

# banner MESSAGE...: a heading in the build log.
banner() { printf '\n==== [helios step %s] %s ====\n' "${HELIOS_STEP:-?}" "$*"; }

# log MESSAGE...: one line of progress.
log() { printf '[helios step %s] %s\n' "${HELIOS_STEP:-?}" "$*"; }

# die MESSAGE...: report on stderr and end the script.
die() {
  printf '[helios step %s] error: %s\n' "${HELIOS_STEP:-?}" "$*" >&2
  exit 1
}

# --- preconditions -------------------------------------------------------------------------------

# require_env NAME...: fail unless every NAME is set and not empty. Version variables come from
# pipeline/versions.toml through the sections the step declares (docs/hooks.md).
require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "$name is not set (the pipeline passes it from pipeline/versions.toml)"
  done
}

# require_tools TOOL...: fail unless every TOOL is on PATH.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is missing: install it in an earlier step (or common/packages.toml)"
  done
}
