#!/bin/bash
# devices: give the desktop user access to GPU, DVB and sound devices
# passed into the container (s6-rc oneshot "helios-devices").
#
# For every character device under /dev/dri, /dev/dvb and /dev/snd, the user
# joins the device's group; a group is created under the name helios-gid<N>
# when the device's GID has no name in the container. Devices owned by group
# root are never opened up (the user is not added to root): a hint is logged
# instead. Device permissions on the host are left unchanged.
#
# Env: HELIOS_DEVICE_DIRS (space separated, default "/dev/dri /dev/dvb /dev/snd"),
#      HELIOS_ROOT (tests), HELIOS_DEVICE_TYPE (find -type, tests only: default c).
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

helios_resolve_user || exit 1
user="$HELIOS_USER"

read -r -a device_dirs <<<"${HELIOS_DEVICE_DIRS:-$HELIOS_ROOT/dev/dri $HELIOS_ROOT/dev/dvb $HELIOS_ROOT/dev/snd}"
declare -A joined=()
count=0
for dir in "${device_dirs[@]}"; do
    [[ -d "$dir" ]] || continue
    while IFS= read -r -d '' device; do
        count=$((count + 1))
        gid="$(stat -c '%g' "$device")"
        mode="$(stat -c '%A' "$device")"
        if [[ "$gid" == 0 ]]; then
            if [[ "${mode:7:2}" != rw ]]; then
                helios_log devices "$device belongs to group root and is not world read/write; give it a group on the host (e.g. video/render)"
            fi
            continue
        fi
        [[ -n "${joined[$gid]:-}" ]] && continue
        group="$(getent group "$gid" | cut -d: -f1 || true)"
        if [[ -z "$group" ]]; then
            group="helios-gid$gid"
            groupadd -g "$gid" "$group"
            helios_log devices "created group $group for GID $gid"
        fi
        usermod -a -G "$group" "$user"
        joined[$gid]="$group"
        helios_log devices "$user joined group $group for $device"
        if [[ "${mode:4:2}" != rw ]]; then
            helios_log devices "$device has no group read/write permission; run 'chmod g+rw' on the host"
        fi
    done < <(find "$dir" -type "${HELIOS_DEVICE_TYPE:-c}" -print0)
done
helios_log devices "$count device(s) checked"
