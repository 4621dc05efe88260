#!/bin/bash
# machine-id: give this container a machine id of its own (s6-rc oneshot "helios-machine-id").
#
# The image ships none: the build removes the one a package made (pipeline/settle.py), or every
# container of the image would share it. D-Bus, PulseAudio and the desktop session read it. It is
# made at the first start, from the kernel's random UUID, in /etc/machine-id (machine-id(5): 32
# lower-case hex digits and a newline, read-only); where D-Bus keeps its own copy
# (/var/lib/dbus), /var/lib/dbus/machine-id links to it, as Debian's dbus package links them. An
# id already there (a container started again, or a file the runtime mounts) is kept; anything else
# in its place (an empty file, a link) is replaced, never written through.
#
# Relies on: /opt/helios/lib/helios.sh. Env: HELIOS_ROOT (tests).
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

ETC_ID="$HELIOS_ROOT/etc/machine-id"
DBUS_ID="$HELIOS_ROOT/var/lib/dbus/machine-id"

# valid_id PATH : PATH is a regular file holding one machine id.
valid_id() {
    [[ -f "$1" && ! -L "$1" ]] && [[ "$(<"$1")" =~ ^[0-9a-f]{32}$ ]]
}

if valid_id "$ETC_ID"; then
    helios_log machine-id "keeping this container's machine id"
else
    id="$(tr -d '-' </proc/sys/kernel/random/uuid)"
    [[ "$id" =~ ^[0-9a-f]{32}$ ]] || helios_die machine-id "the kernel gave no random UUID to make a machine id from"
    rm -f -- "$ETC_ID.tmp"
    printf '%s\n' "$id" >"$ETC_ID.tmp"
    chmod 0444 "$ETC_ID.tmp"
    mv -f -T -- "$ETC_ID.tmp" "$ETC_ID"
    helios_log machine-id "made a machine id for this container"
fi
if [[ -d "${DBUS_ID%/*}" ]] && ! valid_id "$DBUS_ID"; then
    ln -sfnT /etc/machine-id "$DBUS_ID"
fi
