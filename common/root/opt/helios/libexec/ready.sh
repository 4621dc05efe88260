#!/bin/bash
# ready: the boot mark behind GET {PREFIX}healthz (s6-rc oneshot "helios-ready",
# the last service to start).
#
#   ready.sh up     mark boot as complete and compute the ready marker once
#   ready.sh down   remove the boot mark and the marker (container stopping),
#                   so /healthz turns 503 before the desktop stops
#
# The marker itself is kept in step with the services by health.sh (svc-health).
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

case "${1:-}" in
    up)
        mkdir -p "$HELIOS_RUN/health"
        touch "$HELIOS_RUN/health/booted"
        state="$(helios_health_update)"
        helios_log health "boot complete: $state"
        ;;
    down)
        rm -f "$HELIOS_RUN/health/booted" "$(helios_health_marker)"
        ;;
    *)
        helios_die health "usage: $0 up|down"
        ;;
esac
