#!/bin/bash
# init: first step of the Helios boot (s6-rc oneshot "helios-init").
#
# Clears the health state, prints the version banner, then runs the event hooks of /etc/helios/init.d
# as root, in lexical order, before the desktop user exists (e.g. to join a
# directory service). A failing hook, or one stopped after HELIOS_HOOK_TIMEOUT seconds
# (default 60), is logged by name; boot goes on.
#
# Relies on: /opt/helios/lib/helios.sh, /opt/helios/*.version (optional).
# Env: HELIOS_ROOT (tests), USER/UID/GID (exported to hooks as HELIOS_*).
# Leaves: no health state of an earlier boot (nginx starts after this); the hooks' own effects.
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

# Health state is per boot: /healthz says "starting" until helios-ready marks this boot complete.
helios_health_reset

# A mistyped on/off setting stops the boot here, before anything has started on a wrong reading.
helios_check_switches || helios_die settings "fix the setting(s) above and start again"

shopt -s nullglob
for version_file in "$HELIOS_OPT"/*.version; do
    helios_log init "$(<"$version_file")"
done
shopt -u nullglob

# Hooks may want to know who the desktop user will be.
helios_resolve_user || exit 1
helios_run_hooks init "$HELIOS_ETC/init.d"
