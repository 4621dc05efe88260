#!/bin/bash
# desktop: start the desktop session as the desktop user (longrun "svc-desktop", through
# s6-setuidgid) in the user's home, once the X server and PulseAudio are up:
#
# - keyboard: KEYBOARD_LAYOUT (with KEYBOARD_VARIANT, KEYBOARD_OPTIONS) is set on the X server
#   with setxkbmap, so the keys KasmVNC passes on mean what the user's layout says, and exported
#   as XKB_DEFAULT_* for the programs that read it from the environment;
# - input method: INPUT_METHOD (auto: fcitx5, else ibus, when the image has one) is named to
#   GTK, Qt and X programs (GTK_IM_MODULE, QT_IM_MODULE, XMODIFIERS), and started inside the
#   session by its autostart entry (`desktop.sh input-method`);
# - GPU: with NVIDIA=true (or auto) and the NVIDIA devices in the container, the whole session
#   runs under VirtualGL's vglrun (NVIDIA_GL=virtualgl, default) or Mesa's Zink on the NVIDIA
#   Vulkan driver (NVIDIA_GL=zink); anything missing is logged and the session starts plain.
#
# Then it execs /opt/helios/startwm.sh, the override point. LANG and LC_ALL come from the
# container environment (helios-locale has built them). Nothing here stops the session: a setting
# that cannot be applied is logged and left out.
# Env: the settings above, VGL_DISPLAY (default egl), HELIOS_VGLRUN, HELIOS_ROOT (tests).
set -euo pipefail
# shellcheck source=common/root/opt/helios/lib/helios.sh
source "${HELIOS_LIB:-${HELIOS_ROOT:-}/opt/helios/lib/helios.sh}"

# keyboard : apply KEYBOARD_LAYOUT, KEYBOARD_VARIANT and KEYBOARD_OPTIONS to the X server.
keyboard() {
    local layout="${KEYBOARD_LAYOUT:-}" variant="${KEYBOARD_VARIANT:-}" options="${KEYBOARD_OPTIONS:-}"
    local -a args
    [[ -n "$layout" ]] || return 0
    # XKB names: letters, digits, '_', '-', '(', ')', ':', '+' and ',' between layouts.
    if [[ ! "$layout$variant$options" =~ ^[A-Za-z0-9_,:+()-]+$ ]]; then
        helios_log desktop "KEYBOARD_LAYOUT='$layout' KEYBOARD_VARIANT='$variant' KEYBOARD_OPTIONS='$options' are not XKB names (e.g. de, us,ru, nodeadkeys, grp:alt_shift_toggle): keyboard left as it is"
        return 0
    fi
    args=(-layout "$layout")
    [[ -z "$variant" ]] || args+=(-variant "$variant")
    [[ -z "$options" ]] || args+=(-option "$options")
    if ! command -v setxkbmap >/dev/null; then
        helios_log desktop "KEYBOARD_LAYOUT=$layout: setxkbmap is not installed, keyboard left as it is"
    elif setxkbmap "${args[@]}"; then
        export XKB_DEFAULT_LAYOUT="$layout" XKB_DEFAULT_VARIANT="$variant" XKB_DEFAULT_OPTIONS="$options"
        helios_log desktop "keyboard: ${args[*]}"
    else
        helios_log desktop "setxkbmap ${args[*]} failed (an unknown layout or variant?): keyboard left as it is"
    fi
}

# input_method : choose the input method INPUT_METHOD names and tell the toolkits about it.
input_method() {
    local setting="${INPUT_METHOD:-auto}" method="" daemon im
    case "${setting,,}" in
        none | false | off) return 0 ;;
        auto)
            if command -v fcitx5 >/dev/null; then
                method=fcitx5
            elif command -v ibus-daemon >/dev/null; then
                method=ibus
            fi
            [[ -n "$method" ]] || return 0
            ;;
        fcitx5 | ibus) method="${setting,,}" ;;
        *)
            helios_log desktop "INPUT_METHOD='$setting' is none of auto, fcitx5, ibus, none: no input method"
            return 0
            ;;
    esac
    daemon=fcitx5
    [[ "$method" == fcitx5 ]] || daemon=ibus-daemon
    if ! command -v "$daemon" >/dev/null; then
        helios_log desktop "INPUT_METHOD=$method: $daemon is not installed (docs/hooks.md shows how to add it at build time)"
        return 0
    fi
    im="${method%5}"
    # The daemon needs the session's D-Bus: /etc/xdg/autostart/helios-input-method.desktop starts
    # it inside the session (desktop.sh input-method), from HELIOS_INPUT_METHOD.
    export HELIOS_INPUT_METHOD="$method" GTK_IM_MODULE="$im" QT_IM_MODULE="$im" SDL_IM_MODULE="$im" XMODIFIERS="@im=$im"
    helios_log desktop "input method: $method"
}

# start_input_method : start the daemon of HELIOS_INPUT_METHOD (from the session's autostart).
# Both detach themselves; --replace takes over from the daemon of a session s6 restarted.
start_input_method() {
    case "${HELIOS_INPUT_METHOD:-}" in
        fcitx5) exec fcitx5 --replace -d ;;
        ibus) exec ibus-daemon --replace --xim --daemonize ;;
    esac
}

# nvidia_devices : succeed when the NVIDIA driver's device nodes are in the container.
nvidia_devices() {
    local node
    [[ -e "$HELIOS_ROOT/dev/nvidiactl" ]] || return 1
    for node in "$HELIOS_ROOT"/dev/nvidia[0-9]*; do
        [[ -e "$node" ]] && return 0
    done
    return 1
}

# zink_driver : succeed when Mesa has its Zink driver (OpenGL on Vulkan) in a DRI directory.
zink_driver() {
    local found
    found="$(find "$HELIOS_ROOT"/usr/lib*/ -maxdepth 3 -name zink_dri.so -print -quit 2>/dev/null)" || true
    [[ -n "$found" ]]
}

# gpu_wrapper : print, one per line, the command the session runs under (nothing: plain session).
gpu_wrapper() {
    local setting="${NVIDIA:-false}" gl="${NVIDIA_GL:-virtualgl}" vglrun
    if [[ "${setting,,}" == auto ]]; then
        nvidia_devices || return 0
    elif helios_is_true "$setting"; then
        if ! nvidia_devices; then
            helios_log desktop "NVIDIA=$setting but no NVIDIA device is in the container (/dev/nvidiactl and /dev/nvidia0...): run it with --gpus all (NVIDIA Container Toolkit); plain session"
            return 0
        fi
    elif [[ -z "$setting" ]] || helios_is_false "$setting"; then
        return 0
    else
        helios_log desktop "NVIDIA='$setting' is none of true, auto, false: plain session"
        return 0
    fi
    case "${gl,,}" in
        virtualgl)
            vglrun="${HELIOS_VGLRUN:-$(command -v vglrun || echo /opt/VirtualGL/bin/vglrun)}"
            if [[ ! -x "$vglrun" ]]; then
                helios_log desktop "NVIDIA: vglrun is not installed (this image was built with virtualgl = false, or its family has no VirtualGL package); plain session, or set NVIDIA_GL=zink"
                return 0
            fi
            helios_log desktop "NVIDIA: the session runs under VirtualGL ($vglrun, device ${VGL_DISPLAY:-egl})"
            # +wm: the window manager runs under it too; VirtualGL then leaves its own windows alone.
            printf '%s\n' "$vglrun" -d "${VGL_DISPLAY:-egl}" +wm
            ;;
        zink)
            if ! zink_driver; then
                helios_log desktop "NVIDIA_GL=zink but this image's Mesa has no Zink driver (zink_dri.so); plain session"
                return 0
            fi
            helios_log desktop "NVIDIA: the session's OpenGL runs on Zink (Mesa on the NVIDIA Vulkan driver)"
            printf '%s\n' env __GLX_VENDOR_LIBRARY_NAME=mesa MESA_LOADER_DRIVER_OVERRIDE=zink GALLIUM_DRIVER=zink
            ;;
        *)
            helios_log desktop "NVIDIA_GL='$gl' is neither virtualgl nor zink: plain session"
            ;;
    esac
}

case "${1:-session}" in
    session)
        cd "$HOME"
        keyboard
        input_method
        mapfile -t wrapper < <(gpu_wrapper)
        exec "${wrapper[@]}" "$HELIOS_OPT/startwm.sh"
        ;;
    input-method) start_input_method ;;
    *) helios_die desktop "usage: $0 [session|input-method]" ;;
esac
