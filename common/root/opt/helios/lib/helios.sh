# shellcheck shell=bash
# Helios runtime library: logging, event-hook runner, desktop-user settings,
# config templating, health marker and idle arithmetic.
#
# Sourced (never executed) by the scripts in /opt/helios/libexec and by the
# s6 service scripts. It only defines functions and path variables; sourcing it
# has no side effect.
#
# Every filesystem path goes through HELIOS_ROOT (default: empty, i.e. "/") so
# the tests can point the scripts at a temporary tree. Individual paths can be
# overridden with the HELIOS_*_DIR variables below.

HELIOS_ROOT="${HELIOS_ROOT:-}"
HELIOS_ETC="${HELIOS_ETC:-$HELIOS_ROOT/etc/helios}"
HELIOS_OPT="${HELIOS_OPT:-$HELIOS_ROOT/opt/helios}"
HELIOS_RUN="${HELIOS_RUN:-$HELIOS_ROOT/run/helios}"
HELIOS_STATE="${HELIOS_STATE:-$HELIOS_ROOT/var/lib/helios}"
# s6-overlay's container environment: one file per variable, read by with-contenv.
HELIOS_CONTENV="${HELIOS_CONTENV:-$HELIOS_ROOT/run/s6/container_environment}"
# s6 scan directory, where every supervised service has a directory or link.
HELIOS_SCANDIR="${HELIOS_SCANDIR:-$HELIOS_ROOT/run/service}"
# shellcheck disable=SC2034 # read by the scripts that source this library
{
    # KasmVNC's per-boot TLS pair and login file, which only nginx's requests can satisfy.
    HELIOS_KASMVNC_DIR="$HELIOS_RUN/kasmvnc"
    # kclient's web server: a unix socket that only nginx's workers (and the desktop user) may open.
    HELIOS_KCLIENT_SOCKET="$HELIOS_RUN/kclient/kclient.sock"
}

# s6-overlay starts services with a short PATH; add the usual system directories
# after whatever is already there (so tests can put stubs first).
PATH="${PATH:-/usr/bin:/bin}:/command:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH

# Defaults of the desktop user when USER / UID / GID are not set.
HELIOS_DEFAULT_USER="helios"
HELIOS_DEFAULT_UID="1000"

# The long-running services that must be up (and ready) for GET /healthz to say "ready".
HELIOS_CORE_SERVICES="svc-pulseaudio svc-xvnc svc-kclient svc-nginx svc-desktop"

# helios_log COMPONENT MESSAGE... : one line on stderr, which s6 sends to the container log.
helios_log() {
    local component="$1"
    shift
    printf '[helios] %s: %s\n' "$component" "$*" >&2
}

# helios_die COMPONENT MESSAGE... : log and exit 1.
helios_die() {
    helios_log "$@"
    exit 1
}

# helios_env NAME : print the value of environment variable NAME ("" if unset).
# Used for UID: bash treats $UID as its own read-only variable, so the value
# that the container was given is read from the environment instead.
helios_env() {
    printenv "$1" 2>/dev/null || true
}

# helios_is_true VALUE : succeed for 1/true/yes/on (any case).
helios_is_true() {
    case "${1,,}" in
        1 | true | yes | on) return 0 ;;
        *) return 1 ;;
    esac
}

# helios_is_false VALUE : succeed for 0/false/no/off (any case); with helios_is_true, a setting
# that is neither is a mistake to report.
helios_is_false() {
    case "${1,,}" in
        0 | false | no | off) return 0 ;;
        *) return 1 ;;
    esac
}

# The on/off settings of the image, each with its default. NVIDIA (true, false or auto) and SUDO
# (true, false or password) take a third word: desktop.sh and user.sh read them.
HELIOS_SWITCHES="HTTPS=false DISABLE_IPV6=false HW3D=false HELIOS_ALLOW_SYSTEM_ACCOUNT=false"

# helios_switch_state NAME : print "on" or "off" for the on/off setting NAME, one of
# HELIOS_SWITCHES (its default when unset or empty). Any other value is a mistake that must not
# pass for "off" (HTTPS=tru would serve plain HTTP): it is logged, and nothing is printed.
helios_switch_state() {
    local name="$1" entry value=""
    for entry in $HELIOS_SWITCHES; do
        [[ "${entry%%=*}" == "$name" ]] && value="${entry#*=}"
    done
    value="${!name:-$value}"
    if helios_is_true "$value"; then
        echo on
    elif helios_is_false "$value"; then
        echo off
    else
        helios_log settings "$name='$value' is neither on nor off: use true or false (1/0, yes/no and on/off work too)"
        return 1
    fi
}

# helios_switch NAME : succeed when the on/off setting NAME is on, fail when it is off. On a value
# that is neither, the calling script exits with 1 (helios_switch_state says why).
helios_switch() {
    local state
    state="$(helios_switch_state "$1")" || exit 1
    [[ "$state" == on ]]
}

# helios_check_switches : log every on/off setting whose value is neither on nor off, NVIDIA's
# "auto" aside, and fail when there is one. helios-init runs it first, so a mistyped switch
# stops the boot before anything has started.
helios_check_switches() {
    local entry failed=0
    for entry in $HELIOS_SWITCHES; do
        helios_switch_state "${entry%%=*}" >/dev/null || failed=1
    done
    local nvidia="${NVIDIA:-false}"
    if [[ "${nvidia,,}" != auto ]] && ! helios_is_true "$nvidia" && ! helios_is_false "$nvidia"; then
        helios_log settings "NVIDIA='$nvidia' is none of true, false and auto"
        failed=1
    fi
    return "$failed"
}

# helios_decimal VALUE MIN MAX : print VALUE as a plain decimal number when it is a whole number
# from MIN to MAX; fail, printing nothing, otherwise. Digits only. Leading zeros are read as
# decimal ("08" is 8, "010" is 10), never as octal the way bash arithmetic reads them, and values
# too long for bash's 64-bit arithmetic are refused before any arithmetic, so nothing wraps
# around. The one parser of numbers that come from the environment or from other programs.
helios_decimal() {
    local LC_ALL=C value="$1" min="$2" max="$3" digits
    [[ "$value" =~ ^[0-9]+$ ]] || return 1
    digits="${value#"${value%%[!0]*}"}"
    digits="${digits:-0}"
    ((${#digits} <= 18)) || return 1
    ((10#$digits >= min && 10#$digits <= max)) || return 1
    printf '%s\n' "$((10#$digits))"
}

# helios_resolve_user : set HELIOS_USER, HELIOS_UID, HELIOS_GID, HELIOS_HOME from
# USER / UID / GID (defaults: helios, 1000, GID = UID) and validate them.
helios_resolve_user() {
    HELIOS_USER="$(helios_env USER)"
    HELIOS_USER="${HELIOS_USER:-$HELIOS_DEFAULT_USER}"
    HELIOS_UID="$(helios_env UID)"
    HELIOS_UID="${HELIOS_UID:-$HELIOS_DEFAULT_UID}"
    HELIOS_GID="$(helios_env GID)"
    HELIOS_GID="${HELIOS_GID:-$HELIOS_UID}"

    if [[ ! "$HELIOS_USER" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]]; then
        helios_log user "USER='$HELIOS_USER' is not a valid user name (lower case letters, digits, _ and -, at most 32)"
        return 1
    fi
    if [[ "$HELIOS_USER" == root ]]; then
        helios_log user "USER=root is refused: the desktop runs as an unprivileged user"
        return 1
    fi
    local id
    if ! id="$(helios_decimal "$HELIOS_UID" 1 2147483646)"; then
        helios_log user "UID='$HELIOS_UID' must be a decimal number between 1 and 2147483646"
        return 1
    fi
    HELIOS_UID="$id"
    if ! id="$(helios_decimal "$HELIOS_GID" 1 2147483646)"; then
        helios_log user "GID='$HELIOS_GID' must be a decimal number between 1 and 2147483646"
        return 1
    fi
    HELIOS_GID="$id"
    HELIOS_HOME="$HELIOS_ROOT/home/$HELIOS_USER"
    export HELIOS_USER HELIOS_UID HELIOS_GID HELIOS_HOME
}

# helios_supervise PROBE COMMAND... : become COMMAND, the process of a longrun, with its stderr in
# the container log, under s6-notifyoncheck, which tells s6 the service is ready once
# `check.sh PROBE` passes. Call it from the run script: s6-notifyoncheck reads the service
# directory's notification-fd from the current directory.
helios_supervise() {
    local probe="$1"
    shift
    exec 2>&1
    exec s6-notifyoncheck -w 250 -n 0 -c "$HELIOS_OPT/libexec/check.sh $probe" "$@"
}

# helios_wait_for PROBE SECONDS : wait until `check.sh PROBE` passes, trying every 0.25 s; fail
# when it has not passed within SECONDS.
helios_wait_for() {
    local tries
    for ((tries = 4 * $2; tries > 0; tries--)); do
        "$HELIOS_OPT/libexec/check.sh" "$1" && return 0
        sleep 0.25
    done
    return 1
}

# helios_supervise_as_user PROBE COMMAND... : helios_supervise, COMMAND run as the desktop user of
# helios_resolve_user with that user's HOME, USER and LOGNAME (s6-setuidgid changes only the ids).
helios_supervise_as_user() {
    local probe="$1"
    shift
    export HOME="$HELIOS_HOME" USER="$HELIOS_USER" LOGNAME="$HELIOS_USER"
    helios_supervise "$probe" s6-setuidgid "$HELIOS_USER" "$@"
}

# helios_contenv_set NAME VALUE : publish a variable to every service started
# later through with-contenv (s6-overlay's container environment directory).
helios_contenv_set() {
    [[ -d "$HELIOS_CONTENV" ]] || return 0
    printf '%s' "$2" >"$HELIOS_CONTENV/$1"
}

# helios_contenv_unset NAME : hide a variable from services started later.
helios_contenv_unset() {
    rm -f "$HELIOS_CONTENV/$1"
}

# helios_hook_entries DIR : print, one per line and in lexical (C locale) order,
# the runnable hooks of DIR: regular files that are executable or end in .sh,
# and sub-directories holding an entrypoint.sh. Hidden files and README files are
# skipped quietly; any other entry is skipped with a log line saying why, so a hook
# mounted without its executable bit does not silently never run.
helios_hook_entries() {
    local dir="$1" entry where
    [[ -d "$dir" ]] || return 0
    local LC_ALL=C
    shopt -s nullglob
    for entry in "$dir"/*; do
        where="$(basename "$dir")/$(basename "$entry")"
        if [[ -d "$entry" ]]; then
            if [[ -f "$entry/entrypoint.sh" ]]; then
                printf '%s\n' "$entry/entrypoint.sh"
            else
                helios_log hooks "$where/ has no entrypoint.sh: skipped"
            fi
        elif [[ -f "$entry" ]] && [[ -x "$entry" || "$entry" == *.sh ]]; then
            printf '%s\n' "$entry"
        elif [[ "$(basename "$entry")" == README* ]]; then
            continue
        elif [[ -f "$entry" ]]; then
            helios_log hooks "$where is not executable and not named *.sh: skipped (chmod +x it or rename it to *.sh)"
        else
            helios_log hooks "$where is not a regular file or directory: skipped"
        fi
    done
    shopt -u nullglob
}

# helios_hook_name PATH : the name a hook is logged under (file or bundle name).
helios_hook_name() {
    local path="$1"
    if [[ "$(basename "$path")" == entrypoint.sh ]]; then
        basename "$(dirname "$path")"
    else
        basename "$path"
    fi
}

# Seconds between the TERM that ends a hook out of time and the KILL for one that ignores TERM.
HELIOS_HOOK_KILL_GRACE=2

# helios_hook_timeout KIND : print how many seconds one hook of KIND may run (0: no limit):
# HELIOS_SHUTDOWN_HOOK_TIMEOUT (default 5, as `docker stop` kills the container 10 s after asking it
# to stop) for shutdown hooks, HELIOS_HOOK_TIMEOUT (default 60) for the others.
helios_hook_timeout() {
    local variable=HELIOS_HOOK_TIMEOUT default=60 value seconds
    if [[ "$1" == shutdown ]]; then
        variable=HELIOS_SHUTDOWN_HOOK_TIMEOUT default=5
    fi
    value="${!variable:-$default}"
    if ! seconds="$(helios_decimal "$value" 0 86400)"; then
        helios_log "$1" "$variable='$value' is not a number of seconds (0 to 86400); using $default"
        seconds="$default"
    fi
    printf '%s\n' "$seconds"
}

# helios_run_hook PATH SECONDS : run one hook, executable files directly, others with bash. With
# SECONDS > 0 it runs under coreutils' timeout, which starts it in a process group of its own, sends
# TERM to that whole group (so to whatever the hook started too) after SECONDS and KILL
# HELIOS_HOOK_KILL_GRACE seconds later, and exits with 124 (137 after a KILL).
helios_run_hook() {
    local -a argv=("$1")
    [[ -x "$1" ]] || argv=(bash "$1")
    if (($2 > 0)); then
        argv=(timeout -k "$HELIOS_HOOK_KILL_GRACE" "$2" "${argv[@]}")
    fi
    "${argv[@]}"
}

# helios_run_hooks KIND DIR : run every hook of DIR in lexical order, each limited to
# helios_hook_timeout KIND seconds. A failing hook, or one stopped for running out of time, is
# logged with its name and exit code; the others still run, and the function returns 0 so a broken
# or hanging hook never stops the container. The number of failed hooks is left in
# HELIOS_HOOKS_FAILED.
helios_run_hooks() {
    local kind="$1" dir="$2" hook name rc limit started total=0
    HELIOS_HOOKS_FAILED=0
    local -a hooks=()
    mapfile -t hooks < <(helios_hook_entries "$dir")
    if ((${#hooks[@]} == 0)); then
        helios_log "$kind" "no hooks in $dir"
        return 0
    fi
    limit="$(helios_hook_timeout "$kind")"
    if ((limit > 0)) && ! command -v timeout >/dev/null; then
        helios_log "$kind" "no 'timeout' command (coreutils): hooks run without a time limit"
        limit=0
    fi
    for hook in "${hooks[@]}"; do
        name="$(helios_hook_name "$hook")"
        total=$((total + 1))
        helios_log "$kind" "running hook $name"
        rc=0
        started=$SECONDS
        HELIOS_HOOK_KIND="$kind" HELIOS_HOOK_NAME="$name" helios_run_hook "$hook" "$limit" || rc=$?
        if ((rc != 0)); then
            HELIOS_HOOKS_FAILED=$((HELIOS_HOOKS_FAILED + 1))
            # timeout's codes, but only once the limit has passed: a hook may exit 124 by itself.
            if ((limit > 0 && (rc == 124 || rc == 137) && SECONDS - started >= limit)); then
                helios_log "$kind" "hook $name timed out after ${limit}s and was stopped (exit code $rc; continuing)"
            else
                helios_log "$kind" "hook $name failed with exit code $rc (continuing)"
            fi
        fi
    done
    helios_log "$kind" "$total hook(s) run, $HELIOS_HOOKS_FAILED failed"
    return 0
}

# helios_normalize_prefix VALUE : print PREFIX with one leading and one trailing slash and no
# repeated slashes ("" and "/" give "/", "//desk//" gives "/desk/"). Fails on characters that are
# not safe in a URL path and in nginx configuration, and on "." or ".." segments, which browsers
# and proxies resolve away so the prefix would never match. The one normaliser of PREFIX: nginx's
# configuration, kclient and the readiness probe all read it from here.
helios_normalize_prefix() {
    local prefix="$1" segment
    local -a segments=()
    if [[ ! "$prefix" =~ ^[A-Za-z0-9._~/-]*$ ]]; then
        helios_log config "PREFIX='$prefix' may only hold letters, digits, '.', '_', '~', '-' and '/'"
        return 1
    fi
    while [[ "$prefix" == *//* ]]; do prefix="${prefix//\/\//\/}"; done
    IFS=/ read -ra segments <<<"$prefix"
    for segment in "${segments[@]}"; do
        if [[ "$segment" == . || "$segment" == .. ]]; then
            helios_log config "PREFIX='$1' has a '$segment' segment: use a plain path such as /desk/"
            return 1
        fi
    done
    [[ "$prefix" == /* ]] || prefix="/$prefix"
    [[ "$prefix" == */ ]] || prefix="$prefix/"
    printf '%s\n' "$prefix"
}

# helios_nginx_workers : set HELIOS_NGINX_USER and HELIOS_NGINX_GROUP to the unprivileged account
# nginx's workers run as (its name differs per distro: www-data on Debian and Ubuntu, nginx on
# Alpine and RHEL). Both stay empty when not run as root: nginx then keeps the invoking user.
helios_nginx_workers() {
    local candidate entry
    HELIOS_NGINX_USER="" HELIOS_NGINX_GROUP=""
    [[ "$(id -u)" == 0 ]] || return 0
    for candidate in www-data nginx nobody; do
        if entry="$(getent passwd "$candidate")"; then
            # shellcheck disable=SC2034 # read by the scripts that source this library
            HELIOS_NGINX_USER="$candidate"
            HELIOS_NGINX_GROUP="$(getent group "$(cut -d: -f4 <<<"$entry")" | cut -d: -f1 || true)"
            HELIOS_NGINX_GROUP="${HELIOS_NGINX_GROUP:-$candidate}"
            return 0
        fi
    done
}

# helios_https_enabled : succeed when nginx serves HTTP_PORT over TLS (HTTPS=true).
helios_https_enabled() {
    helios_switch HTTPS
}

# helios_local_url PATH : the URL under which this container's nginx answers PATH (which starts
# with the normalised prefix) from inside the container: scheme from HTTPS, address from
# HTTP_ADDRESS when nginx listens on one address only, else the loopback.
helios_local_url() {
    local scheme=http address="${HTTP_ADDRESS:-}"
    helios_https_enabled && scheme=https
    case "$address" in
        "" | 0.0.0.0) address=127.0.0.1 ;;
        "[::]") address="[::1]" ;;
    esac
    printf '%s://%s:%s%s\n' "$scheme" "$address" "${HTTP_PORT:-3000}" "$1"
}

# helios_validate_port VALUE : succeed when VALUE is a TCP port number.
helios_validate_port() {
    # Callers use VALUE as written (nginx, URLs), so only the plain form is accepted: not "08".
    [[ "$(helios_decimal "$1" 1 65535)" == "$1" ]]
}

# helios_render_template TEMPLATE OUTPUT NAME=VALUE... : copy TEMPLATE to OUTPUT,
# replacing every @NAME@ with VALUE. Values are inserted literally (no shell or
# sed evaluation); callers validate them first. Fails if a placeholder of the
# form @UPPER_CASE@ is left over, so a missing value cannot go unnoticed.
helios_render_template() {
    local template="$1" output="$2" pair name value text
    shift 2
    text="$(<"$template")"
    for pair in "$@"; do
        name="${pair%%=*}"
        value="${pair#*=}"
        text="${text//@"$name"@/"$value"}"
    done
    if [[ "$text" =~ @[A-Z][A-Z0-9_]*@ ]]; then
        helios_log template "$template: no value for ${BASH_REMATCH[0]}"
        return 1
    fi
    mkdir -p "$(dirname "$output")"
    printf '%s\n' "$text" >"$output.tmp"
    mv -f "$output.tmp" "$output"
}

# helios_health_marker : path of the file nginx serves at {PREFIX}healthz.
helios_health_marker() {
    printf '%s\n' "$HELIOS_RUN/health/ready"
}

# helios_health_reset : forget every health state, the boot mark and the ready marker. Run first
# at every start, before nginx can serve /healthz: a marker left in /run by an earlier run of the
# container, or shipped in an image layer, must never answer "ready" for a boot still under way.
helios_health_reset() {
    rm -rf "$HELIOS_RUN/health"
}

# helios_health_interval : seconds between two health checks, HELIOS_HEALTH_INTERVAL (default 5).
helios_health_interval() {
    helios_decimal "${HELIOS_HEALTH_INTERVAL:-5}" 1 3600 || echo 5
}

# A core service that keeps dying must not read as healthy: s6-supervise starts it again within a
# second, so "up and ready" alone is true at almost every check. Its deaths count instead: the
# service is down while its last death is under two health intervals old, and while it has died
# HELIOS_HEALTH_DEATHS times within HELIOS_HEALTH_DEATHS_WINDOW seconds (a restart loop).
HELIOS_HEALTH_DEATHS=3
HELIOS_HEALTH_DEATHS_WINDOW=120

# helios_tai_seconds LABEL : the seconds of a TAI64N label (@ and 24 hex digits), as s6-clock and
# s6-svdt print them. Labels past 2^63 (never a wall-clock time) are refused, so nothing wraps.
helios_tai_seconds() {
    [[ "$1" =~ ^@([0-7][0-9a-f]{15})[0-9a-f]{8}$ ]] || return 1
    printf '%s\n' "$((16#${BASH_REMATCH[1]}))"
}

# helios_service_ready NAME : succeed when the s6 service NAME is up and ready and has not died
# recently (see HELIOS_HEALTH_DEATHS). s6-supervise appends each death to the service's death tally
# with a wall-clock TAI64N stamp; s6-svdt prints the newest ones (oldest first) and s6-clock the
# time now in the same form. A tally or clock that cannot be read counts as down.
helios_service_ready() {
    local dir="$HELIOS_SCANDIR/$1" state deaths now quiet stamp died age recent=0
    state="$(s6-svstat -o up,ready "$dir" 2>/dev/null)" || return 1
    [[ "$state" == "true true" ]] || return 1
    deaths="$(s6-svdt -n "$HELIOS_HEALTH_DEATHS" "$dir" 2>/dev/null)" || return 1
    [[ -n "$deaths" ]] || return 0
    now="$(helios_tai_seconds "$(s6-clock 2>/dev/null)")" || return 1
    quiet=$((2 * $(helios_health_interval)))
    while read -r stamp _; do
        died="$(helios_tai_seconds "$stamp")" || return 1
        age=$((now - died))
        ((age >= 0)) || continue # the wall clock was set back since: the age is unknown
        ((age >= quiet)) || return 1
        ((age >= HELIOS_HEALTH_DEATHS_WINDOW)) || recent=$((recent + 1))
    done <<<"$deaths"
    ((recent < HELIOS_HEALTH_DEATHS))
}

# helios_audio_whole : succeed when sound works end to end: PulseAudio runs the browser
# microphone's pipe source (module-pipe-source on helios_mic_socket), and kclient, which streams
# the desktop's sound to the page and the page's microphone back, is connected to this very
# PulseAudio (one of its clients has kclient's pid). Both go missing when PulseAudio restarts
# under them. Asked as the desktop user, the owner of PulseAudio.
helios_audio_whole() {
    local kclient modules clients user="${HELIOS_USER:-${USER:-helios}}"
    kclient="$(s6-svstat -o pid "$HELIOS_SCANDIR/svc-kclient" 2>/dev/null)" || return 1
    helios_decimal "$kclient" 2 4194304 >/dev/null || return 1
    modules="$(s6-setuidgid "$user" pactl list short modules 2>/dev/null)" || return 1
    [[ "$modules"$'\n' == *[[:space:]]"file=$(helios_mic_socket)"[[:space:]]* ]] || return 1
    clients="$(s6-setuidgid "$user" pactl list clients 2>/dev/null)" || return 1
    [[ "$clients" == *"application.process.id = \"$kclient\""* ]]
}

# helios_notify_ready : tell s6-supervise that this service is ready. s6 clears a longrun's ready
# flag at every start and sets it only when the service writes a newline to the fd named by its
# service directory's notification-fd file (run scripts start in that directory). Closes the fd
# afterwards; does nothing when the service is not supervised that way (e.g. run by hand).
helios_notify_ready() {
    local fd
    [[ -r notification-fd ]] || return 0
    fd="$(helios_decimal "$(<notification-fd)" 0 1023)" || return 0
    { printf '\n' >&"$fd"; } 2>/dev/null || return 0
    exec {fd}>&-
}

# helios_audio_reconnect : the health watcher's answer to a lasting "down:audio" (every core
# service ready, kclient not PulseAudio's client). kclient connects to PulseAudio once, at start,
# and starts without sound when PulseAudio has not answered within its wait (a slow restart on a
# loaded machine): nothing would connect it later. Restart kclient, at most once per PulseAudio
# process, so a kclient that cannot connect for another reason is not restarted (and its viewers
# cut off) over and over; the state stays down:audio and says so.
helios_audio_reconnect() {
    local pulse mark="$HELIOS_RUN/health/audio-reconnected"
    pulse="$(s6-svstat -o pid "$HELIOS_SCANDIR/svc-pulseaudio" 2>/dev/null)" || return 0
    helios_decimal "$pulse" 2 4194304 >/dev/null || return 0
    [[ "$(cat "$mark" 2>/dev/null)" != "$pulse" ]] || return 0
    printf '%s\n' "$pulse" >"$mark"
    helios_log health "kclient is not a client of PulseAudio (pid $pulse): restarting kclient"
    s6-svc -r "$HELIOS_SCANDIR/svc-kclient" 2>/dev/null || true
}

# helios_health_update : write the ready marker when boot has completed and
# every core service is up and ready; remove it otherwise. Prints the state.
helios_health_update() {
    local marker service
    marker="$(helios_health_marker)"
    mkdir -p "$(dirname "$marker")"
    if [[ ! -e "$HELIOS_RUN/health/booted" ]]; then
        rm -f "$marker"
        echo starting
        return 0
    fi
    for service in $HELIOS_CORE_SERVICES; do
        if ! helios_service_ready "$service"; then
            rm -f "$marker"
            echo "down:$service"
            return 0
        fi
    done
    if ! helios_audio_whole; then
        rm -f "$marker"
        echo "down:audio"
        return 0
    fi
    if [[ ! -e "$marker" ]]; then
        # svc-health and helios-ready may both get here at once: each writes a file of its own and
        # renames it over the marker (atomic), so neither moves the other's away.
        printf 'ready' >"$marker.$$"
        mv -f "$marker.$$" "$marker"
    fi
    echo ready
}

# helios_pulse_dir UID : print PULSE_RUNTIME_PATH (default /run/helios/pulse), PulseAudio's
# runtime folder, which root makes and gives to the desktop user UID at every start. So that
# this never gives the user a folder of the system (PULSE_RUNTIME_PATH=/etc), it must lie below
# /run/helios/ or the user's own /run/user/UID/: an absolute path of letters, digits and ._-
# without . or .. segments. Fails, saying so, on anything else.
helios_pulse_dir() {
    local dir="${PULSE_RUNTIME_PATH:-/run/helios/pulse}" segment
    local -a segments=()
    IFS=/ read -ra segments <<<"${dir#/}"
    for segment in "${segments[@]}"; do
        if [[ ! "$segment" =~ ^[A-Za-z0-9._-]+$ || "$segment" == . || "$segment" == .. ]]; then
            segments=()
            break
        fi
    done
    if ((${#segments[@]} == 0)) || [[ "$dir" != /* || ! "$dir/" =~ ^(/run/helios/|/run/user/$1/).+ ]]; then
        helios_log user "PULSE_RUNTIME_PATH='$dir' must be a folder below /run/helios/ or /run/user/$1/ (letters, digits, '._-', no '.' or '..'), e.g. /run/user/$1/pulse"
        return 1
    fi
    printf '%s\n' "$dir"
}

# helios_keymap_dir UID GID : give the X server's keymap folder, /var/lib/xkb, to the desktop
# user. Xvnc, as that user, writes the keymap it compiles at every start there when it may, and
# into /tmp otherwise (OutputDirectory in the X server's xkb/ddxLoad.c; /var/lib/xkb is the
# --with-xkb-output of common/build/lib/xorg.sh): with a full /tmp it could not start again.
# Stale keymaps are removed; a link is never followed. Only logs when it cannot (a read-only /).
helios_keymap_dir() {
    local dir="$HELIOS_ROOT/var/lib/xkb"
    if [[ -L "$dir" ]]; then
        helios_log xvnc "$dir is a symbolic link: keymaps go to /tmp"
        return 0
    fi
    { install -d "$dir" && chown -h "$1:$2" "$dir" && chmod 0755 "$dir" && rm -f "$dir"/server-*.xkm; } 2>/dev/null ||
        helios_log xvnc "cannot give $dir to the desktop user (read-only?): keymaps go to /tmp"
    return 0
}

# helios_mic_socket : the pipe that carries the browser's microphone: kclient writes into it
# (MIC_SOCKET) and PulseAudio reads it (module-pipe-source in default.pa). The one place naming it.
helios_mic_socket() {
    printf '%s/mic.sock\n' "${PULSE_RUNTIME_PATH:-/run/helios/pulse}"
}

# helios_pulse_config OUTPUT : render the PulseAudio script /etc/helios/pulse/default.pa, a
# template, to OUTPUT (readable by the desktop user) with @MIC_SOCKET@ set to helios_mic_socket.
helios_pulse_config() {
    helios_render_template "$HELIOS_ETC/pulse/default.pa" "$1" "MIC_SOCKET=$(helios_mic_socket)"
    chmod 0644 "$1"
}

# helios_idle_step IDLE_MS THRESHOLD_MS FIRED POLL_S : decide what the idle
# watcher does next. Prints "<action> <sleep seconds>", action being:
#   fire  - idle for the threshold and hooks not yet run in this idle period
#   wait  - idle period already handled: poll for activity every POLL_S seconds
#   reset - user active: sleep until the threshold could be reached at the earliest
# The sleep is never shorter than 1 second, so the watcher cannot busy-loop.
helios_idle_step() {
    local idle_ms="$1" threshold_ms="$2" fired="$3" poll_s="$4" remaining_s
    if ((idle_ms >= threshold_ms)); then
        if ((fired)); then
            echo "wait $poll_s"
        else
            echo "fire $poll_s"
        fi
    else
        remaining_s=$(((threshold_ms - idle_ms + 999) / 1000))
        ((remaining_s >= 1)) || remaining_s=1
        echo "reset $remaining_s"
    fi
}

# helios_group_of PID : succeed, setting HELIOS_PGRP to its process group, when PID is a live
# process (a zombie holds nothing any more). Read from /proc without a fork (ps is not in every
# image), so a scan of every process stays quick.
helios_group_of() {
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    # The fields after the command name, which may hold spaces and parentheses: state, ppid, pgrp.
    [[ "${stat##*) }" =~ ^([A-Za-z])\ -?[0-9]+\ ([0-9]+)\  && "${BASH_REMATCH[1]}" != Z ]] || return 1
    HELIOS_PGRP="${BASH_REMATCH[2]}"
}

# helios_group_members PGID : print the pids of the live processes of process group PGID.
helios_group_members() {
    local entry
    for entry in /proc/[0-9]*; do
        helios_group_of "${entry#/proc/}" && [[ "$HELIOS_PGRP" == "$1" ]] && printf '%s\n' "${entry#/proc/}"
    done
    return 0
}

# helios_reap_group NAME PGID : SIGKILL what the dead longrun NAME left in its process group PGID
# and wait (up to 3 s) until it is gone; for the finish scripts. s6-supervise starts each run
# script as the leader of a new session and process group, and passes that group to ./finish as
# its fourth argument once the run script's process has died. A daemon killed without the chance
# to stop its children (nginx's master, with SIGKILL) leaves them there, holding what the next
# start needs. Refuses PID 1's group and the caller's own.
helios_reap_group() {
    local name="$1" group left tries
    if ! group="$(helios_decimal "$2" 2 4194304)"; then
        helios_log "$name" "finish: '$2' is not a process group above 1: nothing stopped"
        return 1
    fi
    if helios_group_of "$BASHPID" && [[ "$HELIOS_PGRP" == "$group" ]]; then
        helios_log "$name" "finish: $group is this script's own process group: nothing stopped"
        return 1
    fi
    left="$(helios_group_members "$group")"
    [[ -n "$left" ]] || return 0
    helios_log "$name" "stopping what the dead service left in its process group $group: pid(s) ${left//$'\n'/ }"
    kill -KILL -- "-$group" 2>/dev/null
    for ((tries = 0; tries < 30; tries++)); do
        [[ -z "$(helios_group_members "$group")" ]] && return 0
        sleep 0.1
    done
    helios_log "$name" "process group $group still has pid(s) $(helios_group_members "$group" | tr '\n' ' ')after 3 s"
    return 1
}
