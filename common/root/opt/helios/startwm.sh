#!/bin/bash
# startwm.sh: the desktop session, run as the desktop user by the longrun
# "svc-desktop" once the X server (DISPLAY) and PulseAudio are up.
#
# Override point: replace this file (bind-mount it, or COPY it in a derived
# image) to start another session. Keep the session in the foreground; when
# it exits (e.g. the user logs out), s6 starts it again.
# Env (set by svc-desktop): DISPLAY, HOME, USER, XDG_RUNTIME_DIR, XAUTHORITY,
# PULSE_SERVER.
set -euo pipefail

export XDG_CURRENT_DESKTOP="${XDG_CURRENT_DESKTOP:-XFCE}"
export XDG_SESSION_TYPE=x11
export XDG_SESSION_DESKTOP="${XDG_SESSION_DESKTOP:-xfce}"

if ! command -v xfce4-session >/dev/null; then
    echo "[helios] desktop: xfce4-session is not installed; override /opt/helios/startwm.sh" >&2
    # Do not let s6 restart a missing session every second.
    sleep 30
    exit 1
fi

# A private session bus for this desktop; it ends with the session.
exec dbus-launch --exit-with-session xfce4-session
