#!/bin/bash
# service-run: run script of one services.d entry (see services.sh). s6-supervise
# starts it in the service directory, whose "target" file names the entry.
#
# The container environment is loaded through with-contenv; the entry is
# exec'd (no extra process), directly when executable, else with bash.
set -euo pipefail

target="$(<./target)"
if [[ ! -e "$target" ]]; then
    echo "[helios] services: $target is gone; not restarting" >&2
    # Tell s6 not to restart a service whose script was removed.
    exec s6-svc -O .
fi
echo "[helios] services: starting $target" >&2
if [[ -x "$target" ]]; then
    exec /command/with-contenv "$target"
fi
exec /command/with-contenv bash "$target"
