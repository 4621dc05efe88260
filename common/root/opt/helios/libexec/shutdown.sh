#!/bin/bash
# shutdown: run /etc/helios/shutdown.d when the container stops. It is
# the "down" script of the s6-rc oneshot "helios-shutdown", which depends on
# the desktop services: s6-rc brings it down first, so the hooks run while the
# desktop, X server and audio are still up (e.g. to save the XFCE session).
#
# Hooks run as root, in lexical order; a failing hook is logged and the others
# still run. Each is stopped after HELIOS_SHUTDOWN_HOOK_TIMEOUT seconds (default 5):
# `docker stop` waits 10 s by default (-t to raise).
# Env given to hooks: HELIOS_USER, HELIOS_HOME, DISPLAY and the container env.
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

helios_resolve_user || exit 0
export DISPLAY="${DISPLAY:-:1}"
helios_run_hooks shutdown "$HELIOS_ETC/shutdown.d"
