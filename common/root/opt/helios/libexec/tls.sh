#!/bin/bash
# tls: the TLS pairs of this container (s6-rc oneshot "helios-tls", after helios-user). No key
# ships in the image.
#
# - nginx's pair, /var/lib/helios/tls/{cert,key}.pem: served on HTTP_PORT with HTTPS=true and no
#   HTTPS_CERT mounted. Self-signed, with a subjectAltName for localhost, the host name and the
#   loopback addresses; made at the first start and kept (persist /var/lib/helios so browsers
#   trust it once). Its key is root's alone: nginx's master reads it as root, and neither the
#   desktop user nor any program it runs can. A pair of an earlier image, whose key the desktop
#   user's group could read or whose certificate has no subjectAltName, is replaced.
# - KasmVNC's pair, /run/helios/kasmvnc/{cert,key}.pem: new at every start, the key readable by
#   the desktop user's group (KasmVNC runs as the user). Used on the loopback only: nginx speaks
#   TLS to KasmVNC and trusts this certificate alone, so nothing else on KasmVNC's port can pass
#   for it.
#
# /var/lib/helios/tls may be a host folder the desktop user can write to: it is made root-owned
# first, and nothing in it is followed. A link, a non-regular file, a file with several names or
# not owned by root in place of the pair is replaced by a new pair, never chowned or chmodded
# through. A mounted HTTPS_KEY that the desktop user can read is reported.
#
# Relies on: openssl, s6-setuidgid. Env: HELIOS_ROOT (tests), USER/UID/GID, HTTPS, HTTPS_KEY.
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

# stale_reason : print why the pair in $dir cannot be served as it is (nothing: it can).
stale_reason() {
    if [[ ! -e "$cert" && ! -L "$cert" && ! -e "$key" && ! -L "$key" ]]; then
        echo "there was none yet"
    elif ! trusted_file "$cert" || ! trusted_file "$key"; then
        echo "replacing it: not regular root-owned files (links are never followed)"
    elif [[ "$(stat -c '%a' -- "$key")" != 600 ]]; then
        echo "replacing it: its key was readable by more than root (mode $(stat -c '%a' -- "$key"), an earlier image)"
    elif ! openssl x509 -noout -ext subjectAltName -in "$cert" 2>/dev/null | grep -q 'DNS:localhost'; then
        echo "replacing it: its certificate names no host (no subjectAltName)"
    fi
}

# new_pair CERT KEY SUBJECT SAN KEYTYPE... : a self-signed pair made beside its place and moved
# there, the key never readable by anyone but root while it is written.
new_pair() {
    local out="$1" keyout="$2" subject="$3" san="$4"
    shift 4
    rm -f -- "$keyout.tmp" "$out.tmp"
    (
        umask 077
        openssl req -x509 -nodes -days 3650 -newkey "$@" -subj "$subject" \
            -addext "subjectAltName=$san" -keyout "$keyout.tmp" -out "$out.tmp" 2>/dev/null
    ) || helios_die tls "openssl could not create a certificate for $subject"
    rm -rf -- "$keyout" "$out"
    mv -f -T -- "$keyout.tmp" "$keyout"
    mv -f -T -- "$out.tmp" "$out"
}

# --- nginx's pair --------------------------------------------------------------------------------
own_directory "$HELIOS_STATE"
own_directory "$dir"
reason="$(stale_reason)"
if [[ -z "$reason" ]]; then
    helios_log tls "reusing $cert"
else
    host="$(cat /proc/sys/kernel/hostname 2>/dev/null || true)"
    san="DNS:localhost,IP:127.0.0.1,IP:::1"
    [[ "$host" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ && "$host" != localhost ]] && san="DNS:$host,$san"
    new_pair "$cert" "$key" "/CN=${host:-helios}" "$san" rsa:2048
    helios_log tls "created a self-signed certificate in $dir for $san ($reason)"
fi
# Both are regular files of root's in a directory only root can write to: nothing can have
# swapped them for links since they were checked or made.
chown 0:0 "$key" "$cert"
chmod 0600 "$key"
chmod 0644 "$cert"

if helios_https_enabled && [[ -n "${HTTPS_KEY:-}" && -e "$HTTPS_KEY" ]] &&
    s6-setuidgid "$HELIOS_USER" test -r "$HTTPS_KEY" 2>/dev/null; then
    helios_log SECURITY "WARNING: the desktop user $HELIOS_USER can read HTTPS_KEY=$HTTPS_KEY: any program it runs can take the key; mount it readable by root only (nginx reads it as root)"
fi

# --- KasmVNC's pair ------------------------------------------------------------------------------
install -d -m 0755 "$HELIOS_RUN" "$HELIOS_KASMVNC_DIR"
chown 0:0 "$HELIOS_KASMVNC_DIR"
new_pair "$HELIOS_KASMVNC_DIR/cert.pem" "$HELIOS_KASMVNC_DIR/key.pem" /CN=helios-kasmvnc \
    DNS:helios-kasmvnc ec -pkeyopt ec_paramgen_curve:prime256v1
chown "0:$HELIOS_GID" "$HELIOS_KASMVNC_DIR/key.pem"
chmod 0640 "$HELIOS_KASMVNC_DIR/key.pem"
chmod 0644 "$HELIOS_KASMVNC_DIR/cert.pem"
helios_log tls "KasmVNC's pair for this boot, for nginx on the loopback: $HELIOS_KASMVNC_DIR"
