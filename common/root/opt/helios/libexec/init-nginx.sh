#!/bin/bash
# init-nginx: render the nginx configuration from the environment (s6-rc
# oneshot "helios-nginx-config"; svc-nginx runs nginx with the result).
#
# Reads:  /etc/helios/nginx/nginx.conf.template
# Writes: /run/helios/nginx/nginx.conf and the nginx temp directories.
# Env:    HTTP_PORT (default 3000), PREFIX (default /, normalised to /x/),
#         DISABLE_IPV6 (true: no [::] listener; also off when the kernel has no
#         IPv6), HELIOS_ROOT (tests), HELIOS_NGINX_TEMPLATE / HELIOS_NGINX_CONF.
# Fails (and stops the boot) on an invalid port or prefix.
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

template="${HELIOS_NGINX_TEMPLATE:-$HELIOS_ETC/nginx/nginx.conf.template}"
output="${HELIOS_NGINX_CONF:-$HELIOS_RUN/nginx/nginx.conf}"

port="${HTTP_PORT:-3000}"
helios_validate_port "$port" || helios_die nginx "HTTP_PORT='$port' is not a TCP port number"
prefix="$(helios_normalize_prefix "${PREFIX:-/}")" || exit 1

listen_v6="# IPv6 listener disabled"
if ! helios_is_true "${DISABLE_IPV6:-false}" && [[ -e "${HELIOS_IPV6_PROBE:-/proc/net/if_inet6}" ]]; then
    listen_v6="listen [::]:$port default_server;"
fi

# The master runs as root; workers need an unprivileged account, whose name
# differs per distro (www-data on Debian/Ubuntu, nginx on Alpine/RHEL).
user_directive="# workers run as the invoking user"
worker_user=""
if [[ "$(id -u)" == 0 ]]; then
    for candidate in www-data nginx nobody; do
        if entry="$(getent passwd "$candidate")"; then
            worker_user="$candidate"
            worker_group="$(getent group "$(cut -d: -f4 <<<"$entry")" | cut -d: -f1 || true)"
            user_directive="user $worker_user ${worker_group:-$worker_user};"
            break
        fi
    done
fi

root_healthz=""
prefix_extra=""
if [[ "$prefix" != / ]]; then
    # Probes that do not know the prefix still find the health endpoint.
    root_healthz="        location = /healthz {
            default_type text/plain;
            add_header Cache-Control \"no-store\" always;
            alias $(helios_health_marker);
            log_not_found off;
            error_page 404 =503 @not_ready;
        }"
    prefix_extra="        location = ${prefix%/} {
            return 301 $prefix;
        }
        location / {
            return 404;
        }"
fi

helios_render_template "$template" "$output" \
    "USER_DIRECTIVE=$user_directive" \
    "RUN_DIR=$HELIOS_RUN" \
    "HTTP_PORT=$port" \
    "LISTEN_V6=$listen_v6" \
    "PREFIX=$prefix" \
    "HEALTH_MARKER=$(helios_health_marker)" \
    "ROOT_HEALTHZ=$root_healthz" \
    "PREFIX_EXTRA=$prefix_extra"

for dir in body proxy fastcgi uwsgi scgi; do
    mkdir -p "$HELIOS_RUN/nginx/tmp/$dir"
    if [[ -n "$worker_user" ]]; then chown "$worker_user" "$HELIOS_RUN/nginx/tmp/$dir"; fi
done
mkdir -p "$HELIOS_RUN/health"
helios_log nginx "listening on port $port, prefix $prefix ($output)"
