#!/bin/bash
# check: readiness probes of the Helios longruns, run by s6-notifyoncheck
# (`-c "/opt/helios/libexec/check.sh NAME"`) until they succeed. Exit 0 when
# the service answers, non-zero otherwise. Runs as root with the run script's env.
#
#   pulseaudio  the server answers `pactl info` on its socket
#   xvnc        the X socket of DISPLAY exists and KasmVNC answers HTTPS on 6901 (any status:
#               without its login, 401)
#   kclient     kclient answers GET {PREFIX} with 2xx/3xx on its unix socket
#   nginx       nginx answers GET {PREFIX}healthz on HTTP_PORT (200 or 503)
#   desktop     the X server accepts the session's own credentials (DISPLAY and XAUTHORITY as
#               the desktop user): the session can draw. s6 cannot see further into it.
#   healthz     GET {PREFIX}healthz answers 200: the whole desktop is ready. Not a service
#               probe: a container health check (docker run --health-cmd, see docs/runtime.md).
set -uo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

probe_http() {
    # Print the status code of GET $1 (000 when nothing answers), with curl's options $2...
    # -k: the probes ask the container's own servers, whose certificates are self-signed.
    curl -k -s -o /dev/null -w '%{http_code}' --max-time 2 "${@:2}" "$1" 2>/dev/null || true
}

prefix="$(helios_normalize_prefix "${PREFIX:-/}")" || exit 1

case "${1:-}" in
    pulseaudio)
        s6-setuidgid "${HELIOS_USER:-${USER:-helios}}" pactl info >/dev/null 2>&1
        ;;
    xvnc)
        display="${DISPLAY:-:1}"
        [[ -S "/tmp/.X11-unix/X${display#:}" ]] || exit 1
        [[ "$(probe_http https://127.0.0.1:6901/)" != 000 ]]
        ;;
    kclient)
        [[ "$(probe_http "http://localhost$prefix" --unix-socket "$HELIOS_KCLIENT_SOCKET")" =~ ^[23] ]]
        ;;
    nginx)
        [[ "$(probe_http "$(helios_local_url "${prefix}healthz")")" =~ ^(200|503)$ ]]
        ;;
    desktop)
        s6-setuidgid "${HELIOS_USER:-${USER:-helios}}" xdpyinfo >/dev/null 2>&1
        ;;
    healthz)
        [[ "$(probe_http "$(helios_local_url "${prefix}healthz")")" == 200 ]]
        ;;
    *)
        echo "usage: $0 pulseaudio|xvnc|kclient|nginx|desktop|healthz" >&2
        exit 2
        ;;
esac
