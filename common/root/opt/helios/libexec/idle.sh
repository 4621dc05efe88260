#!/bin/bash
# idle: run /etc/helios/idle.d once each time the desktop has had no
# keyboard or mouse input for IDLE_TIME minutes (longrun "svc-idle").
#
# The idle time comes from the X server (MIT-SCREEN-SAVER extension) through
# `xprintidle` or `xssstate -i`, whichever is installed. The watcher sleeps
# until the threshold can be reached at the earliest, and after the hooks have
# fired it polls every IDLE_POLL seconds (default 30) for the user to come
# back; the hooks run again only after new activity. No busy loop.
#
# IDLE_TIME=0 or an empty idle.d disables the watcher (it then sleeps).
# Hooks run as root with HELIOS_USER, HELIOS_HOME and DISPLAY set, each stopped after
# HELIOS_HOOK_TIMEOUT seconds (default 60).
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

helios_resolve_user || exit 1
export DISPLAY="${DISPLAY:-:1}"
export XAUTHORITY="${XAUTHORITY:-$HELIOS_HOME/.Xauthority}"
idle_setting="${IDLE_TIME:-30}"
poll_setting="${IDLE_POLL:-30}"
if ! poll="$(helios_decimal "$poll_setting" 1 86400)"; then
    helios_log idle "IDLE_POLL='$poll_setting' is not a number of seconds (1 to 86400); using 30"
    poll=30
fi

# disable REASON : nothing to do; stay up (s6 would otherwise restart us) without work.
disable() {
    helios_log idle "idle hooks disabled: $1"
    helios_notify_ready
    if command -v s6-pause >/dev/null; then
        exec s6-pause
    fi
    exec sleep infinity
}

# At most a year: the threshold in milliseconds stays far inside bash's arithmetic.
idle_time="$(helios_decimal "$idle_setting" 0 525600)" ||
    disable "IDLE_TIME='$idle_setting' is not a number of minutes (0 to 525600)"
((idle_time > 0)) || disable "IDLE_TIME=0"
[[ -n "$(helios_hook_entries "$HELIOS_ETC/idle.d")" ]] || disable "no hooks in $HELIOS_ETC/idle.d"

if command -v xprintidle >/dev/null; then
    probe=(xprintidle)
elif command -v xssstate >/dev/null; then
    probe=(xssstate -i)
else
    disable "neither xprintidle nor xssstate is installed"
fi

threshold_ms=$((idle_time * 60000))
fired=0
helios_log idle "running idle.d after $idle_time minute(s) without input"
helios_notify_ready
while true; do
    if ! sample="$("${probe[@]}" 2>/dev/null)" || ! idle_ms="$(helios_decimal "$sample" 0 999999999999)"; then
        # X not reachable (restarting) or an answer that is no idle time: try again later.
        sleep "$poll"
        continue
    fi
    read -r action pause <<<"$(helios_idle_step "$idle_ms" "$threshold_ms" "$fired" "$poll")"
    case "$action" in
        fire)
            helios_log idle "idle for $((idle_ms / 60000)) minute(s)"
            helios_run_hooks idle "$HELIOS_ETC/idle.d"
            fired=1
            ;;
        reset) fired=0 ;;
    esac
    sleep "$pause"
done
