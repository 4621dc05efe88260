#!/bin/bash
# init-tls: create the TLS certificate and key that KasmVNC requires (s6-rc
# oneshot "helios-tls"). No key ships in the image: a self-signed pair is made
# at the first start and kept in /var/lib/helios/tls (persist that directory
# to keep it). The key is readable by root and the desktop user's group only.
#
# KasmVNC listens on 127.0.0.1 behind nginx, so this pair only satisfies its
# start-up check; clients never see it. TLS for users belongs to the proxy in
# front of the container.
#
# Relies on: openssl. Env: HELIOS_ROOT (tests), USER/UID/GID (for the group).
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

helios_resolve_user || exit 1
dir="$HELIOS_STATE/tls"
cert="$dir/cert.pem"
key="$dir/key.pem"

install -d -m 0755 "$dir"
if [[ -s "$cert" && -s "$key" ]]; then
    helios_log tls "reusing $cert"
else
    (
        umask 077
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
            -subj "/CN=helios" -keyout "$key.tmp" -out "$cert.tmp" 2>/dev/null
    ) || helios_die tls "openssl could not create a certificate"
    mv -f "$key.tmp" "$key"
    mv -f "$cert.tmp" "$cert"
    helios_log tls "created a self-signed certificate in $dir"
fi
chown "0:$HELIOS_GID" "$key"
chmod 0640 "$key"
chmod 0644 "$cert"
