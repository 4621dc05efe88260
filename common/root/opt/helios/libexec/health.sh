#!/bin/bash
# health: keep the ready marker behind GET {PREFIX}healthz in step with the
# services (longrun "svc-health"; ready.sh sets the boot mark it waits for).
#
#   health.sh update   recompute once: marker present iff boot completed and
#                      every core longrun is up and ready (s6-svstat) and has not
#                      died recently (s6-svdt; see helios_service_ready)
#   health.sh watch    update every HELIOS_HEALTH_INTERVAL seconds (default 5;
#                      run by the longrun "svc-health"), so a crashed service
#                      turns the endpoint back to 503, for two intervals after its
#                      last death at least and for as long as it keeps dying;
#                      tells s6 it is ready once the marker is computed the first time;
#                      restarts kclient once when the sound stays down while
#                      PulseAudio runs (helios_audio_reconnect)
#
# nginx serves the marker file: 200 "ready" when present, 503 otherwise.
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

case "${1:-}" in
    update)
        helios_health_update
        ;;
    watch)
        interval="$(helios_health_interval)"
        last="" audio_down=0
        while true; do
            state="$(helios_health_update)"
            if [[ "$state" != "$last" ]]; then
                helios_log health "$state"
                [[ -n "$last" ]] || helios_notify_ready
                last="$state"
            fi
            # Sound down at two checks in a row, with every service ready: not kclient still
            # connecting after a restart, but a kclient that started without PulseAudio.
            if [[ "$state" == down:audio ]]; then
                audio_down=$((audio_down + 1))
                ((audio_down < 2)) || helios_audio_reconnect
            else
                audio_down=0
            fi
            sleep "$interval"
        done
        ;;
    *)
        helios_die health "usage: $0 update|watch"
        ;;
esac
