#!/bin/bash
# locale: make the locales of LC_ALL and LANG loadable before the desktop starts (s6-rc oneshot
# "helios-locale", as root).
#
# glibc loads a locale only once it is compiled. When `locale -a` lacks one of them, it is built
# with localedef from the locale sources the image carries (Debian/Ubuntu/Kali: locales; EL:
# glibc-locale-source). musl (Alpine) reads LANG as it is: nothing to build. Only UTF-8 locales
# are built (the desktop is UTF-8); C, POSIX and C.UTF-8 are built into the C library.
# A locale that cannot be built is logged with the reason, and the start goes on: programs then
# fall back to the C locale.
#
# Env: LC_ALL, LANG, HELIOS_I18N (locale sources, default /usr/share/i18n), HELIOS_ROOT (tests).
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

i18n="${HELIOS_I18N:-$HELIOS_ROOT/usr/share/i18n}"

# listed NAME : succeed when `locale -a` lists NAME. The whole list is read first: grep -q would
# stop reading at the first match, and `locale` killed by SIGPIPE would fail the pipeline.
listed() {
    local all
    all="$(locale -a 2>/dev/null)" || true
    grep -qxF -- "$1" <<<"$all"
}

# ensure VARIABLE VALUE : build the locale VALUE of VARIABLE when glibc does not have it yet.
ensure() {
    local variable="$1" name="$2" source key output
    case "$name" in
        "" | C | POSIX | C.UTF-8 | C.utf8) return 0 ;;
    esac
    if [[ ! "$name" =~ ^([a-z]{2,3}(_[A-Z]{2})?)\.([Uu][Tt][Ff]-?8)(@[a-z]+)?$ ]]; then
        if [[ "$name" =~ ^[a-z]{2,3}(_[A-Z]{2})?(@[a-z]+)?$ ]]; then
            helios_log locale "$variable=$name names no character set: use a UTF-8 locale such as ${name%%@*}.UTF-8"
        else
            helios_log locale "$variable=$name is not a locale name (language_TERRITORY.UTF-8, e.g. de_DE.UTF-8)"
        fi
        return 0
    fi
    source="${BASH_REMATCH[1]}${BASH_REMATCH[4]}"
    # `locale -a` spells the character set in lower case without '-': de_DE.utf8, sr_RS.utf8@latin.
    key="${BASH_REMATCH[1]}.utf8${BASH_REMATCH[4]}"
    output="${BASH_REMATCH[1]}.UTF-8${BASH_REMATCH[4]}"
    if compgen -G "$HELIOS_ROOT/lib/ld-musl-*.so.1" >/dev/null; then
        helios_log locale "$variable=$name: musl needs no locale to be built"
        return 0
    fi
    if listed "$key"; then
        helios_log locale "$variable=$name is available"
        return 0
    fi
    if [[ ! -f "$i18n/locales/$source" ]]; then
        helios_log locale "$variable=$name: no locale source $i18n/locales/$source; the image needs the locales (Debian, Ubuntu, Kali) or glibc-locale-source (EL) package, or choose another locale"
        return 0
    fi
    # -c: write the locale even when its source has warnings (what Debian's locale-gen does too).
    localedef -c -i "$source" -f UTF-8 "$output" 2>&1 | sed 's/^/[helios] locale: localedef: /' >&2 || true
    if listed "$key"; then
        helios_log locale "$variable=$name built"
    else
        helios_log locale "$variable=$name could not be built (see localedef above); programs use the C locale"
    fi
}

ensure LC_ALL "${LC_ALL:-}"
[[ "${LANG:-}" == "${LC_ALL:-}" ]] || ensure LANG "${LANG:-}"
