#!/bin/bash
# xvnc: exec KasmVNC's Xvnc in the foreground as the desktop user (run by
# the longrun "svc-xvnc" through s6-setuidgid, so s6 supervises Xvnc itself).
#
# KasmVNC's own `vncserver -dry-run` turns the configuration files
# (/usr/share/kasmvnc/kasmvnc_defaults.yaml, then /etc/helios/kasmvnc.yaml) into
# the Xvnc command line, checks them, writes ~/.Xauthority; the command it
# prints (shell-quoted by vncserver) is then exec'd without its log redirection,
# so Xvnc logs go to the container log.
#
# Flags given here win over any kasmvnc.yaml (vncserver leaves out what the command line sets):
# KasmVNC answers only nginx. Its websocket speaks TLS only, with the per-boot pair of
# helios-tls (nginx trusts that certificate alone), and asks for the per-boot login of
# helios-nginx-config (-KasmPasswordFile: a hash; only nginx's configuration holds the password,
# and the RFB security type stays None behind it). -nolisten local: no X socket in the abstract
# namespace, which belongs to the network namespace (the host's, with --network host); X clients
# use /tmp/.X11-unix. -hw3d when HW3D=true, -drinode DRINODE when the device exists.
# Env: DISPLAY (:1), HOME (set by the run script), HW3D, DRINODE, HELIOS_KASMVNC_DEFAULTS.
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

display="${DISPLAY:-:1}"
# Every X client reads DISPLAY as written, so only the plain form of a display number is taken.
[[ "$(helios_decimal "${display#:}" 0 59535)" == "${display#:}" && "$display" == :?* ]] ||
    helios_die xvnc "DISPLAY='$display' must look like :1 (a display number from 0 to 59535, no leading zero)"

mkdir -p "$HOME/.vnc"
# Skip vncserver's interactive desktop picker: the session is svc-desktop's job.
touch "$HOME/.vnc/.de-was-selected"

defaults="${HELIOS_KASMVNC_DEFAULTS:-/usr/local/share/kasmvnc/kasmvnc_defaults.yaml}"
configs="$HELIOS_ETC/kasmvnc.yaml"
[[ -r "$defaults" ]] && configs="$defaults,$configs"

for file in kasmpasswd cert.pem key.pem; do
    [[ -r "$HELIOS_KASMVNC_DIR/$file" ]] ||
        helios_die xvnc "$HELIOS_KASMVNC_DIR/$file is missing or unreadable (made by helios-nginx-config and helios-tls at every start)"
done
extra=(-SecurityTypes None -KasmPasswordFile "$HELIOS_KASMVNC_DIR/kasmpasswd" -sslOnly 1
    -cert "$HELIOS_KASMVNC_DIR/cert.pem" -key "$HELIOS_KASMVNC_DIR/key.pem" -nolisten local)
if helios_switch HW3D; then
    extra+=(-hw3d)
fi
if [[ -n "${DRINODE:-}" && -e "$DRINODE" ]]; then
    extra+=(-drinode "$DRINODE")
fi

cmd="$(vncserver "$display" -dry-run -noxstartup -config "$configs" "${extra[@]}")" ||
    helios_die xvnc "vncserver rejected the configuration ($configs)"
cmd="$(tail -n 1 <<<"$cmd")"
# Drop vncserver's ">> logfile 2>&1": s6 collects stdout/stderr.
cmd="${cmd% >> *}"
# The line is vncserver's own shell quoting of trusted configuration.
eval "set -- $cmd"
[[ "$(basename "${1:-}")" == Xvnc ]] || helios_die xvnc "unexpected command from vncserver: $cmd"
helios_log xvnc "starting $*"
exec "$@"
