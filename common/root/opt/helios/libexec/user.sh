#!/bin/bash
# user: create the desktop user and its runtime directories (s6-rc
# oneshot "helios-user", after the init hooks).
#
# - USER / UID / GID (defaults helios / 1000 / GID = UID) become a group and a
#   user; an existing UID or GID of the base image is reused, not duplicated.
# - PASSWORD (optional) is hashed with `openssl passwd -6` reading it on stdin
#   and set with `chpasswd -e`: it never appears in a command line or a file,
#   and it is removed from the environment of every service started later.
# - The home directory /home/USER is created when missing (or taken when it is an
#   empty folder of root's: a new volume) and completed from /etc/skel without
#   overwriting anything (a persisted /home is kept as is), as the user and
#   without following the symbolic links found there.
# - Runtime directories: /run/helios (root), the PulseAudio and XDG runtime
#   directories (owned by the user, mode 0700).
# - Publishes USER, UID, GID, HELIOS_USER, HELIOS_HOME and XDG_RUNTIME_DIR to
#   s6's container environment so every later service sees the same user.
#
# - SUDO=true / SUDO=password writes the sudoers drop-in /etc/sudoers.d/helios-user (root,
#   0440, checked by visudo) giving the user sudo without / with its password; any other start
#   removes it.
#
# Relies on: useradd/groupadd/usermod/groupmod, getent, chpasswd, openssl,
# s6-applyuidgid (s6), sudo and visudo (for SUDO).
# Env: USER, UID, GID, PASSWORD, SUDO, HELIOS_ALLOW_SYSTEM_ACCOUNT, PULSE_RUNTIME_PATH,
#      HELIOS_ROOT (tests).
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

helios_resolve_user || exit 1
user="$HELIOS_USER" uid="$HELIOS_UID" gid="$HELIOS_GID" home="$HELIOS_HOME"

# Read PASSWORD as given ($(printenv) would drop trailing newlines; with-contenv keeps every line
# break but a last one) and hide it from every later service first, whatever happens next.
password="${PASSWORD-}"
helios_contenv_unset PASSWORD
# A secret file's trailing line break is no part of the password.
if [[ "$password" == *$'\n' ]]; then
    password="${password%$'\n'}"
    password="${password%$'\r'}"
    helios_log user "PASSWORD ended with a line break (a secret file's): it is not part of the password"
fi
# openssl passwd -stdin and chpasswd read one line: of "a<newline>b" only "a" would be set.
if [[ "$password" == *[$'\n\r']* ]]; then
    helios_die user "PASSWORD contains a line break before its end; only its first line would be set, so it is refused: make it one line"
fi

# Checked before anything is changed: root makes this folder and gives it to the user.
pulse_dir="$(helios_pulse_dir "$uid")" || exit 1

# --- accounts of the image ------------------------------------------------------
# Taking over a system account (daemon, www-data, nobody: a UID below 1000 or a shell that refuses
# logins) would give the desktop user that account's files and rights, and a privileged group as
# the primary group would give it the group's powers (sudo, shadow, disk, ...). Both are refused
# unless HELIOS_ALLOW_SYSTEM_ACCOUNT=true says it is meant.
privileged_groups=" root sudo wheel admin adm shadow disk kmem docker lxd staff systemd-journal "

# system_account NAME_OR_UID : print "NAME (UID U, shell S)" and succeed when the account exists
# and is a system account.
system_account() {
    local entry name account_uid shell
    entry="$(getent passwd "$1")" || return 1
    IFS=: read -r name _ account_uid _ _ _ shell <<<"$entry"
    account_uid="$(helios_decimal "$account_uid" 0 4294967295)" || account_uid=0
    if ((account_uid < 1000)) || [[ "$shell" == */nologin || "$shell" == */false ]]; then
        printf '%s (UID %s, shell %s)\n' "$name" "$account_uid" "${shell:-none}"
        return 0
    fi
    return 1
}

allow_hint="choose another, or set HELIOS_ALLOW_SYSTEM_ACCOUNT=true to take it over on purpose"
gid_group="$(getent group "$gid" | cut -d: -f1 || true)"
if helios_switch HELIOS_ALLOW_SYSTEM_ACCOUNT; then
    helios_log user "HELIOS_ALLOW_SYSTEM_ACCOUNT=true: system accounts and privileged groups may be used"
else
    if account="$(system_account "$user")"; then
        helios_die user "USER=$user names the system account $account of the image: $allow_hint"
    fi
    if account="$(system_account "$uid")" && [[ "${account%% *}" != "$user" ]]; then
        helios_die user "UID=$uid belongs to the system account $account of the image: $allow_hint"
    fi
    if [[ -n "$gid_group" && "$privileged_groups" == *" $gid_group "* ]]; then
        helios_die user "GID=$gid is the privileged group $gid_group: $allow_hint"
    fi
fi

# --- group -----------------------------------------------------------------
group="$gid_group"
if [[ -z "$group" ]]; then
    if getent group "$user" >/dev/null; then
        helios_log user "moving group $user to GID $gid"
        groupmod -o -g "$gid" "$user"
    else
        groupadd -g "$gid" "$user"
    fi
    group="$user"
fi

# --- user ------------------------------------------------------------------
if entry="$(getent passwd "$user")"; then
    IFS=: read -r _ _ cur_uid cur_gid _ cur_home _ <<<"$entry"
    if [[ "$cur_uid" != "$uid" || "$cur_gid" != "$gid" || "$cur_home" != "/home/$user" ]]; then
        helios_log user "updating $user to UID $uid, GID $gid"
        usermod -o -u "$uid" -g "$gid" -d "/home/$user" "$user"
    fi
else
    uid_flags=()
    # Base images may ship a user with this UID (ubuntu:noble has "ubuntu" as 1000).
    if getent passwd "$uid" >/dev/null; then
        uid_flags=(-o)
        helios_log user "UID $uid already belongs to $(getent passwd "$uid" | cut -d: -f1); sharing it"
    fi
    useradd "${uid_flags[@]}" -M -u "$uid" -g "$gid" -d "/home/$user" -s /bin/bash "$user"
    helios_log user "created user $user ($uid:$gid)"
fi

# --- password ----------------------------------------------------------------
if [[ -n "$password" ]]; then
    # Here-strings and printf are shell built-ins: the secret reaches openssl
    # and chpasswd on stdin only, never in argv.
    hash="$(openssl passwd -6 -stdin <<<"$password")"
    printf '%s:%s\n' "$user" "$hash" | chpasswd -e
    helios_log user "password set for $user"
fi
has_password=false
[[ -z "$password" ]] || has_password=true
unset password hash

# --- sudo --------------------------------------------------------------------
# SUDO=true: sudo without a password; SUDO=password: sudo with the user's PASSWORD; off by default.
# The drop-in is written (or removed) at every start, so a restart without SUDO takes the right away.
sudoers_dir="$HELIOS_ROOT/etc/sudoers.d"
sudoers="$sudoers_dir/helios-user" # sudo skips drop-ins whose name holds a '.' or ends in '~'
sudo_setting="${SUDO:-false}"
sudo_rule="" sudo_mode=""
if [[ "${sudo_setting,,}" == password ]]; then
    if [[ "$has_password" == true ]]; then
        sudo_rule="$user ALL=(ALL:ALL) ALL" sudo_mode="with its password"
    else
        helios_log user "SUDO=password needs PASSWORD (the password sudo asks for): sudo stays off for $user"
    fi
elif helios_is_true "$sudo_setting"; then
    sudo_rule="$user ALL=(ALL:ALL) NOPASSWD: ALL" sudo_mode="without a password"
elif ! helios_is_false "$sudo_setting"; then
    helios_die user "SUDO='$sudo_setting' is not a sudo setting: use true (no password), password (the user's PASSWORD) or false"
fi
if [[ -z "$sudo_rule" ]]; then
    rm -f "$sudoers"
elif [[ ! -d "$sudoers_dir" ]]; then
    helios_log user "SUDO=$sudo_setting but this image has no sudo ($sudoers_dir missing): install the sudo package"
else
    printf '# Written at start from SUDO=%s (/opt/helios/libexec/user.sh); removed when SUDO is off.\n%s\n' \
        "$sudo_setting" "$sudo_rule" >"$sudoers.tmp"
    chown 0:0 "$sudoers.tmp"
    chmod 0440 "$sudoers.tmp"
    if command -v visudo >/dev/null && ! visudo -cqf "$sudoers.tmp" >/dev/null; then
        rm -f "$sudoers.tmp"
        helios_die user "visudo refused the sudo rule for $user: sudo stays off"
    fi
    mv -f "$sudoers.tmp" "$sudoers"
    helios_log user "sudo enabled for $user, $sudo_mode (SUDO=$sudo_setting)"
fi

# --- home --------------------------------------------------------------------
# complete_home SKEL HOME : run as the desktop user. Copies what SKEL has and HOME lacks (never
# overwriting) and makes ~/Desktop and ~/Downloads. Symbolic links in HOME are not followed: what
# SKEL has below one is skipped with a log line, and a dangling ~/Desktop is left as it is.
# Self-contained (helios_log aside): it runs in a bash of its own, from `declare -f`.
complete_home() {
    local skel="$1" home="$2" src rel dst link failed=0
    local -a links=()
    if [[ -d "$skel" ]]; then
        # find lists a folder before what it holds, so a linked folder is known before its content.
        while IFS= read -r -d '' src; do
            rel="${src#"$skel"/}"
            dst="$home/$rel"
            for link in "${links[@]}"; do
                [[ "$rel" == "$link"/* ]] && continue 2
            done
            if [[ -L "$dst" ]]; then
                if [[ -d "$src" && ! -L "$src" ]]; then
                    links+=("$rel")
                    helios_log user "$dst is a symbolic link: not completed from /etc/skel"
                fi
                continue
            fi
            [[ -e "$dst" ]] && continue
            if [[ -d "$src" && ! -L "$src" ]]; then
                mkdir "$dst" 2>/dev/null || failed=$((failed + 1))
            else
                cp -P "$src" "$dst" 2>/dev/null || failed=$((failed + 1))
            fi
        done < <(find "$skel" -mindepth 1 -print0)
    fi
    for dst in Desktop Downloads; do
        if [[ -L "$home/$dst" ]]; then
            [[ -d "$home/$dst" ]] || helios_log user "$home/$dst is a symbolic link to no folder: left as it is"
        elif [[ ! -e "$home/$dst" ]]; then
            mkdir "$home/$dst" 2>/dev/null || failed=$((failed + 1))
        fi
    done
    if ((failed > 0)); then
        helios_log user "$failed item(s) of /etc/skel could not be created in $home as $(id -un 2>/dev/null || id -u); is the home owned by UID $(id -u)?"
    fi
    return 0
}

skel="$HELIOS_ROOT/etc/skel"
if [[ -L "$home" ]]; then
    helios_log user "$home is a symbolic link: completing it with the user's own rights only"
elif [[ ! -e "$home" ]]; then
    mkdir -p "$home"
    chmod 0750 "$home"
    chown "$uid:$gid" "$home"
    helios_log user "created $home"
elif [[ -d "$home" && "$uid" != 0 && "$(stat -c %u "$home")" == 0 && -z "$(ls -A "$home")" ]]; then
    # An empty folder of root's is what a runtime mounts for a new volume (docker run -v
    # NAME:/home/USER): it is the user's home to be, as a created one is. Nothing in it is touched.
    chmod 0750 "$home"
    chown "$uid:$gid" "$home"
    helios_log user "$home is a new, empty volume: given to $user"
fi
# A persisted /home belongs to the user: root writes nothing in it. The copy runs as the user
# (s6-applyuidgid, no supplementary groups), so a link the user made can only lead the copy where
# the user could write anyway; complete_home skips links on top of that.
if [[ -d "$home" ]]; then
    # shellcheck disable=SC2016 # "$1" and "$2" are expanded by the inner bash, as the user.
    (cd / && s6-applyuidgid -u "$uid" -g "$gid" -G "" \
        bash -c "$(declare -f helios_log complete_home)"'; complete_home "$1" "$2"' complete-home "$skel" "$home") ||
        helios_log user "completing $home as $user failed; continuing"
else
    helios_log user "$home is not a folder: not completed from /etc/skel"
fi

# --- runtime directories -----------------------------------------------------
install -d -m 0755 "$HELIOS_RUN" "$HELIOS_RUN/health"
for dir in "$HELIOS_ROOT/run/user/$uid" "$HELIOS_ROOT$pulse_dir"; do
    mkdir -p "$dir"
    # Nothing on the way may be a link (the user owns /run/user/UID): never chown through one.
    [[ "$(realpath -m -- "$dir")" == "$dir" && ! -L "$dir" ]] ||
        helios_die user "$dir leads through a symbolic link: not giving it to $user"
    chmod 0700 "$dir"
    chown -h "$uid:$gid" "$dir"
done
# Clients find PulseAudio through PULSE_SERVER: let the image's default follow a moved folder.
if [[ "${PULSE_SERVER:-}" == unix:/run/helios/pulse/native && "$pulse_dir" != /run/helios/pulse ]]; then
    helios_contenv_set PULSE_SERVER "unix:$pulse_dir/native"
    helios_log user "PULSE_SERVER follows PULSE_RUNTIME_PATH: unix:$pulse_dir/native"
fi

# --- publish the resolved user to later services -------------------------------
helios_contenv_set USER "$user"
helios_contenv_set UID "$uid"
helios_contenv_set GID "$gid"
helios_contenv_set HELIOS_USER "$user"
helios_contenv_set HELIOS_HOME "/home/$user"
helios_contenv_set XDG_RUNTIME_DIR "/run/user/$uid"
helios_log user "desktop user $user ($uid:$group) ready, home /home/$user"
