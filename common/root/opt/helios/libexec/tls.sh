#!/bin/bash
# tls: create the TLS certificate and key of this container (s6-rc oneshot
# "helios-tls"). No key ships in the image: a self-signed pair is made at the
# first start and kept in /var/lib/helios/tls (persist that directory to keep
# it). The key is readable by root and the desktop user's group only.
#
# KasmVNC needs the pair to start (it listens on 127.0.0.1 behind nginx, so its
# clients never see it), and nginx serves it on HTTP_PORT when HTTPS=true and no
# HTTPS_CERT is mounted.
#
# The directory may be a host folder the desktop user can write to: it is made
# root-owned first, and nothing in it is followed. A link, a non-regular file, a
# file with several names or not owned by root in place of the pair is replaced
# by a new pair, never chowned or chmodded through.
#
# Relies on: openssl. Env: HELIOS_ROOT (tests), USER/UID/GID (for the group).
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

helios_resolve_user || exit 1
dir="$HELIOS_STATE/tls"
cert="$dir/cert.pem"
key="$dir/key.pem"

# own_directory PATH : PATH is a real directory owned by root that only root can write to.
own_directory() {
    if [[ -L "$1" ]]; then
        helios_die tls "$1 is a symbolic link: make it a directory (or a mount), root-owned"
    fi
    install -d -m 0755 "$1"
    chown -h 0:0 "$1"
    chmod 0755 "$1"
}

# trusted_file PATH : PATH is a regular file of root's with a single name (not a link, not a hard
# link another user could have made to a file elsewhere) and not empty.
trusted_file() {
    [[ -f "$1" && ! -L "$1" && -s "$1" ]] || return 1
    [[ "$(stat -c '%u %h' -- "$1")" == "0 1" ]]
}

own_directory "$HELIOS_STATE"
own_directory "$dir"
if trusted_file "$cert" && trusted_file "$key"; then
    helios_log tls "reusing $cert"
else
    if [[ -e "$cert" || -L "$cert" || -e "$key" || -L "$key" ]]; then
        helios_log tls "replacing $dir/{cert,key}.pem: not regular root-owned files (links are never followed)"
    fi
    rm -f -- "$key.tmp" "$cert.tmp"
    (
        umask 077
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
            -subj "/CN=helios" -keyout "$key.tmp" -out "$cert.tmp" 2>/dev/null
    ) || helios_die tls "openssl could not create a certificate"
    rm -rf -- "$key" "$cert"
    mv -f -T -- "$key.tmp" "$key"
    mv -f -T -- "$cert.tmp" "$cert"
    helios_log tls "created a self-signed certificate in $dir"
fi
# Both are regular files of root's in a directory only root can write to: nothing can have
# swapped them for links since they were checked or made.
chown "0:$HELIOS_GID" "$key"
chmod 0640 "$key"
chown 0:0 "$cert"
chmod 0644 "$cert"
