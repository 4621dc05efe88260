#!/bin/bash
# nginx-config: render the nginx configuration from the environment (s6-rc
# oneshot "helios-nginx-config"; svc-nginx runs nginx with the result).
#
# Reads:  /etc/helios/nginx/nginx.conf.template
# Writes: /run/helios/nginx/nginx.conf (root only: it holds KasmVNC's login), the login file
#         /run/helios/nginx/htpasswd (when a password is set), the nginx temp directories and
#         KasmVNC's login file /run/helios/kasmvnc/kasmpasswd (a hash; new at every start).
# Env:    HTTP_PORT (default 3000), HTTP_ADDRESS (default: every address),
#         PREFIX (default /, normalised to /x/), DISABLE_IPV6 (true: no [::]
#         listener; also off when the kernel has no IPv6), ALLOWED_HOSTS,
#         ALLOWED_ORIGINS, HTTPS, HTTPS_CERT, HTTPS_KEY, HTTP_AUTH_USER,
#         HTTP_AUTH_PASSWORD, HTTP_AUTH_PASSWORD_FILE (docs/runtime.md, Security),
#         HELIOS_ROOT (tests), HELIOS_NGINX_TEMPLATE / HELIOS_NGINX_CONF.
# Fails (and stops the boot) on any invalid value, saying which and why.
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

template="${HELIOS_NGINX_TEMPLATE:-$HELIOS_ETC/nginx/nginx.conf.template}"
output="${HELIOS_NGINX_CONF:-$HELIOS_RUN/nginx/nginx.conf}"
htpasswd="$HELIOS_RUN/nginx/htpasswd"

port="${HTTP_PORT:-3000}"
helios_validate_port "$port" || helios_die nginx "HTTP_PORT='$port' is not a TCP port number"
prefix="$(helios_normalize_prefix "${PREFIX:-/}")" || exit 1
address="${HTTP_ADDRESS:-}"
if [[ -n "$address" && ! "$address" =~ ^([0-9]{1,3}(\.[0-9]{1,3}){3}|\[[0-9A-Fa-f:.]+\])$ ]]; then
    helios_die nginx "HTTP_ADDRESS='$address' is not an IP address (e.g. 127.0.0.1 or [::1]; unset means every address)"
fi

# list_items VALUE : print the items of a comma- or space-separated list, one per line.
list_items() {
    local -a items=()
    read -ra items <<<"${1//[,$'\n']/ }"
    ((${#items[@]} == 0)) || printf '%s\n' "${items[@]}"
}

# host_entries : the map lines of ALLOWED_HOSTS (exact names or *.domain), any port.
host_entries() {
    local name pattern
    while IFS= read -r name; do
        name="${name,,}"
        [[ "$name" == "*" ]] && continue
        if [[ ! "$name" =~ ^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$ ]]; then
            helios_log nginx "ALLOWED_HOSTS: '$name' is not a host name (e.g. desk.example.com or *.example.com)"
            return 1
        fi
        pattern="${name//./\\.}"
        pattern="${pattern/#\*\\./([a-z0-9_-]+\\.)+}"
        printf '        "~*^%s(:[0-9]+)?$" 1;\n' "$pattern"
    done < <(list_items "${ALLOWED_HOSTS:-}")
}

# origin_list : ALLOWED_ORIGINS, checked and in the form browsers send (lower case, no default
# port), one per line.
origin_list() {
    local origin host='([a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])'
    while IFS= read -r origin; do
        origin="${origin,,}"
        [[ "$origin" == "*" ]] && continue
        if [[ ! "$origin" =~ ^https?://$host(:[0-9]{1,5})?$ ]]; then
            helios_log nginx "ALLOWED_ORIGINS: '$origin' is not an origin: scheme://host[:port] with no path, e.g. https://portal.example.com"
            return 1
        fi
        origin="${origin%:443}"
        [[ "$origin" == https://* ]] || origin="${origin%:80}"
        printf '%s\n' "$origin"
    done < <(list_items "${ALLOWED_ORIGINS:-}")
}

# listed VALUE ITEM : succeed when the list VALUE holds ITEM.
listed() {
    list_items "$1" | grep -qxF -- "$2"
}

host_default=0
listed "${ALLOWED_HOSTS:-}" "*" && host_default=1
allowed_hosts="$(host_entries)" || exit 1
origins="$(origin_list)" || exit 1
# shellcheck disable=SC2016 # an nginx variable, for nginx to expand
origin_default='$helios_origin_same'
frame_ancestors="'self'"
allowed_origins=""
if listed "${ALLOWED_ORIGINS:-}" "*"; then
    origin_default=1
    frame_ancestors="*"
elif [[ -n "$origins" ]]; then
    mapfile -t origin_array <<<"$origins"
    allowed_origins="$(printf '        "%s" 1;\n' "${origin_array[@]}")"
    frame_ancestors="$frame_ancestors ${origin_array[*]}"
fi

# Listeners: every address (IPv4, and IPv6 when the kernel has it) or HTTP_ADDRESS only.
ssl=""
helios_https_enabled && ssl=" ssl"
if [[ -n "$address" ]]; then
    listen="        listen $address:$port$ssl default_server;"
else
    listen="        listen $port$ssl default_server;"
    if ! helios_switch DISABLE_IPV6 && [[ -e "${HELIOS_IPV6_PROBE:-/proc/net/if_inet6}" ]]; then
        listen="$listen
        listen [::]:$port$ssl default_server;"
    fi
fi

tls12_ciphers=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384
tls12_ciphers+=:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305

# tls_lines : the TLS directives for HTTPS=true: the per-container pair of helios-tls, or the
# mounted HTTPS_CERT and HTTPS_KEY (both, readable, a path nginx can take as is).
tls_lines() {
    local cert="${HTTPS_CERT:-}" key="${HTTPS_KEY:-}" path
    if ! helios_https_enabled; then
        printf '        # plain HTTP (HTTPS is not true)\n'
        return 0
    fi
    if [[ -n "$cert$key" ]]; then
        for path in "$cert" "$key"; do
            if [[ ! "$path" =~ ^/[A-Za-z0-9._/@+-]+$ ]]; then
                helios_log nginx "HTTPS_CERT and HTTPS_KEY must both be set, to absolute paths without spaces or quotes (got '$path')"
                return 1
            fi
            [[ -f "$path" && -r "$path" ]] || {
                helios_log nginx "HTTPS: '$path' is not a readable file (mount the certificate and key there)"
                return 1
            }
        done
    else
        cert="$HELIOS_STATE/tls/cert.pem"
        key="$HELIOS_STATE/tls/key.pem"
    fi
    printf '        ssl_certificate %s;\n        ssl_certificate_key %s;\n' "$cert" "$key"
    printf '        ssl_protocols TLSv1.2 TLSv1.3;\n'
    # TLS 1.2 with forward secrecy and AEAD only (every TLS 1.3 suite is both); the client picks
    # among them, and no session ticket outlives the key it was sealed with.
    printf '        ssl_ciphers %s;\n' "$tls12_ciphers"
    printf '        ssl_prefer_server_ciphers off;\n        ssl_session_tickets off;\n'
    # A plain http:// request on the TLS port is sent to https:// instead of a 400.
    # shellcheck disable=SC2016 # nginx variables, for nginx to expand
    printf '        error_page 497 =301 https://$http_host$request_uri;\n'
}
tls="$(tls_lines)" || exit 1

# The master runs as root; the workers as an unprivileged account.
helios_nginx_workers
worker_user="$HELIOS_NGINX_USER" worker_group="$HELIOS_NGINX_GROUP"
user_directive="# workers run as the invoking user"
[[ -z "$worker_user" ]] || user_directive="user $worker_user $worker_group;"

root_healthz=""
prefix_extra=""
if [[ "$prefix" != / ]]; then
    # Probes that do not know the prefix still find the health endpoint.
    root_healthz="        location = /healthz {
            default_type text/plain;
            add_header Cache-Control \"no-store\" always;
            alias $(helios_health_marker);
            log_not_found off;
            auth_basic off;
            error_page 404 =503 @not_ready;
        }"
    prefix_extra="        location = ${prefix%/} {
            return 301 $prefix;
        }
        location / {
            return 404;
        }"
fi

# login_password : print the web login password from HTTP_AUTH_PASSWORD or the first and only
# line of the file HTTP_AUTH_PASSWORD_FILE (a mounted secret); nothing when neither is set.
login_password() {
    local file="${HTTP_AUTH_PASSWORD_FILE:-}" password="${HTTP_AUTH_PASSWORD:-}"
    if [[ -n "$file" && -n "$password" ]]; then
        helios_log auth "set HTTP_AUTH_PASSWORD or HTTP_AUTH_PASSWORD_FILE, not both"
        return 1
    fi
    if [[ -n "$file" ]]; then
        if [[ ! -f "$file" || ! -r "$file" ]]; then
            helios_log auth "HTTP_AUTH_PASSWORD_FILE='$file' is not a readable file"
            return 1
        fi
        password="$(<"$file")"
        if [[ -z "$password" ]]; then
            helios_log auth "HTTP_AUTH_PASSWORD_FILE='$file' is empty"
            return 1
        fi
    fi
    if [[ "$password" == *[[:cntrl:]]* ]]; then
        helios_log auth "the web login password holds a line break or another control character: use one line of printable characters"
        return 1
    fi
    printf '%s' "$password"
}

# write_login USER PASSWORD : the login file nginx checks, hashed here (SHA-512 crypt; the
# password reaches openssl on stdin, never in an argv), readable by root and nginx's workers.
write_login() {
    local user="$1" hash
    if [[ ! "$user" =~ ^[^:[:cntrl:][:space:]]{1,64}$ ]]; then
        helios_log auth "HTTP_AUTH_USER='$user' must be 1 to 64 characters without ':', spaces or control characters"
        return 1
    fi
    hash="$(printf '%s\n' "$2" | openssl passwd -6 -stdin)" || {
        helios_log auth "openssl could not hash the web login password"
        return 1
    }
    mkdir -p "$(dirname "$htpasswd")"
    (umask 077 && printf '%s:%s\n' "$user" "$hash" >"$htpasswd.tmp")
    if [[ -n "$worker_user" ]]; then chown "0:${worker_group:-$worker_user}" "$htpasswd.tmp"; fi
    chmod 0640 "$htpasswd.tmp"
    mv -f "$htpasswd.tmp" "$htpasswd"
}

# login_limit : set login_zone, login_limit and login_cookie, the lines that slow down guessing
# the web login. A browser that has logged in gets a cookie with a token of this boot on every
# answer that came from the desktop (only a request that passed the login reaches it, so a
# failed guess never gets one). Requests without the token may come 5 a second from one client
# address (bursts of 100, a page load), whatever their credentials: a guesser learns nothing
# from the 429 it gets past that, and a browser that logged in is never slowed down.
login_limit() {
    local token cookie
    token="$(openssl rand -hex 16)" || {
        helios_log auth "openssl could not make the login cookie"
        return 1
    }
    cookie="helios_login=$token; Path=$prefix; HttpOnly; SameSite=Lax"
    helios_https_enabled && cookie="$cookie; Secure"
    login_zone="    # Guessing the login: see login_limit in nginx-config.sh.
    map \$cookie_helios_login \$helios_login_pending {
        \"$token\" \"\";
        default \$binary_remote_addr;
    }
    limit_req_zone \$helios_login_pending zone=helios_login:1m rate=5r/s;
    map \$upstream_addr \$helios_login_cookie {
        \"\" \"\";
        default \"$cookie\";
    }"
    login_limit="            limit_req zone=helios_login burst=100 nodelay;"
    login_cookie="        add_header Set-Cookie \$helios_login_cookie;"
}

password="$(login_password)" || exit 1
rm -f "$htpasswd"
login_zone="    # no login, so no limit on guessing it"
login_limit="            # no login to guess"
login_cookie="        # no login cookie"
if [[ -n "$password" ]]; then
    login_user="${HTTP_AUTH_USER:-$(helios_env USER)}"
    login_user="${login_user:-$HELIOS_DEFAULT_USER}"
    write_login "$login_user" "$password" || exit 1
    login_limit || exit 1
    auth="        auth_basic \"Helios\";
        auth_basic_user_file $htpasswd;"
    helios_log auth "the page and every websocket require the login of '$login_user'"
else
    auth="        # no login: HTTP_AUTH_PASSWORD and HTTP_AUTH_PASSWORD_FILE are unset"
fi
login=false
[[ -z "$password" ]] || login=true
unset password
# Services started later never see the password.
helios_contenv_unset HTTP_AUTH_PASSWORD

# kasmvnc_login : make KasmVNC's login of this boot and print the Authorization header nginx sends
# it with. The password, 256 random bits, is written nowhere but in nginx's configuration, which
# only root reads. KasmVNC (as the desktop user) reads its hash from kasmpasswd: the SHA-256 crypt
# with the salt "kasm", which KasmVNC hashes a received password with (common/network/websocket.c
# in KasmVNC 1.5), and the rights to read and write the desktop, not those of its owner API.
kasmvnc_login() {
    local secret hash user=helios-proxy file="$HELIOS_KASMVNC_DIR/kasmpasswd"
    secret="$(openssl rand -hex 32)" && hash="$(printf '%s\n' "$secret" | openssl passwd -5 -salt kasm -stdin)" || {
        helios_log kasmvnc "openssl could not make KasmVNC's login"
        return 1
    }
    install -d -m 0755 "$HELIOS_KASMVNC_DIR"
    printf '%s:%s:rw\n' "$user" "$hash" >"$file.tmp"
    chmod 0644 "$file.tmp"
    mv -f "$file.tmp" "$file"
    printf 'Basic %s' "$(printf '%s:%s' "$user" "$secret" | base64 -w 0)"
}
kasmvnc_header="$(kasmvnc_login)" || exit 1

install -d -m 0755 "$HELIOS_RUN" "$HELIOS_RUN/nginx"
umask 077 # the configuration holds KasmVNC's login: root only
helios_render_template "$template" "$output" \
    "USER_DIRECTIVE=$user_directive" \
    "RUN_DIR=$HELIOS_RUN" \
    "LISTEN=$listen" \
    "TLS=$tls" \
    "AUTH=$auth" \
    "HOST_DEFAULT=$host_default" \
    "ALLOWED_HOSTS=$allowed_hosts" \
    "ORIGIN_DEFAULT=$origin_default" \
    "ALLOWED_ORIGINS=$allowed_origins" \
    "FRAME_ANCESTORS=$frame_ancestors" \
    "PREFIX=$prefix" \
    "HEALTH_MARKER=$(helios_health_marker)" \
    "ROOT_HEALTHZ=$root_healthz" \
    "PREFIX_EXTRA=$prefix_extra" \
    "LOGIN_LIMIT_ZONE=$login_zone" \
    "LOGIN_LIMIT=$login_limit" \
    "LOGIN_COOKIE=$login_cookie" \
    "KCLIENT_SOCKET=$HELIOS_KCLIENT_SOCKET" \
    "KASMVNC_LOGIN=$kasmvnc_header" \
    "KASMVNC_CERT=$HELIOS_KASMVNC_DIR/cert.pem"
umask 022

for dir in body proxy fastcgi uwsgi scgi; do
    mkdir -p "$HELIOS_RUN/nginx/tmp/$dir"
    if [[ -n "$worker_user" ]]; then chown "$worker_user" "$HELIOS_RUN/nginx/tmp/$dir"; fi
done
mkdir -p "$HELIOS_RUN/health"
scheme=http
helios_https_enabled && scheme=https
helios_log nginx "listening on ${address:-every address}, port $port ($scheme), prefix $prefix ($output)"
helios_log nginx "host names: loopback, IP addresses${ALLOWED_HOSTS:+, $ALLOWED_HOSTS}; origins: the page's own${ALLOWED_ORIGINS:+, $ALLOWED_ORIGINS}"
if [[ "$login" == false && ! "$address" =~ ^(127\.|\[::1\]$) ]]; then
    helios_log SECURITY "WARNING: the desktop has NO LOGIN and listens on ${address:-every address}:$port: anyone who reaches this port controls it"
    helios_log SECURITY "WARNING: publish the port on the host's loopback only (-p 127.0.0.1:$port:$port), set HTTP_AUTH_PASSWORD_FILE or HTTP_AUTH_PASSWORD, or put an authenticating proxy in front"
fi
