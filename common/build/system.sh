#!/usr/bin/env bash
# Step 10 (system): desktop look and defaults common to every distro, on top of the distro's
# runtime packages (step 9).
#
# Relies on:
#   ORCHIS_THEME_URL, ORCHIS_THEME_COMMIT, ORCHIS_THEME_VERSION   ([orchis_theme] in versions.toml)
#   CASCADIA_CODE_URL, CASCADIA_CODE_SHA256, CASCADIA_CODE_VERSION ([cascadia_code])
#   git, sassc, unzip, curl or wget, fc-cache (fontconfig), python3: installed by step 9 from the
#   package list
#   /helios/hooks/lib.sh
# Leaves behind:
#   /usr/share/themes/Orchis-Orange-Dark-Compact   the GTK/xfwm theme the XFCE defaults name
#   /usr/share/fonts/cascadia-code/*.otf           the terminal font, with the font cache rebuilt
#   no screensaver or screen-locker autostart (the browser tab is the session; a lock screen there
#   only locks the user out), no file with file capabilities, and empty /tmp and /var/tmp
set -euo pipefail
# shellcheck source=common/build/lib.sh
source "${HELIOS_LIB:-/helios/hooks/lib.sh}"

THEMES_DIR=${THEMES_DIR:-/usr/share/themes}
FONTS_DIR=${FONTS_DIR:-/usr/share/fonts/cascadia-code}
AUTOSTART_DIR=${AUTOSTART_DIR:-/etc/xdg/autostart}
WORK_DIR=${WORK_DIR:-/tmp/helios-system}
THEME_NAME=Orchis-Orange-Dark-Compact
IMAGE_ROOT=${IMAGE_ROOT:-/}

orchis_theme() {
  banner "Orchis theme ${ORCHIS_THEME_VERSION} (${ORCHIS_THEME_COMMIT})"
  git_checkout "$ORCHIS_THEME_URL" "$ORCHIS_THEME_COMMIT" "$WORK_DIR/orchis"
  (cd "$WORK_DIR/orchis" && ./install.sh -d "$THEMES_DIR" -c dark -t orange -n Orchis -i ubuntu -s compact)
  [[ -d "$THEMES_DIR/$THEME_NAME" ]] || die "the Orchis installer did not create $THEMES_DIR/$THEME_NAME"
}

# install_fonts ZIP DEST: the static OpenType faces of a Cascadia Code release zip.
install_fonts() {
  local zip=$1 dest=$2 unpacked="$WORK_DIR/cascadia"
  rm -rf "$unpacked"
  mkdir -p "$unpacked" "$dest"
  unzip -q "$zip" -d "$unpacked"
  compgen -G "$unpacked/otf/static/*.otf" >/dev/null || die "${zip##*/} has no otf/static/*.otf"
  cp "$unpacked"/otf/static/*.otf "$dest/"
  chmod 0644 "$dest"/*.otf
}

cascadia_code() {
  banner "Cascadia Code ${CASCADIA_CODE_VERSION}"
  download "$CASCADIA_CODE_URL" "$WORK_DIR/cascadia.zip" "$CASCADIA_CODE_SHA256"
  install_fonts "$WORK_DIR/cascadia.zip" "$FONTS_DIR"
  fc-cache -f >/dev/null
}

# desktop_defaults: remove autostart entries that lock or blank a session nobody sits in front of.
desktop_defaults() {
  banner "desktop defaults"
  local entry
  for entry in xscreensaver light-locker xfce4-screensaver gnome-screensaver; do
    rm -f "$AUTOSTART_DIR/$entry.desktop"
  done
}

# no_file_capabilities: take the file capabilities off every file of the image. Packages ship a
# few (Debian: slock's cap_sys_resource, GStreamer's gst-ptp-helper's cap_net_bind_service and
# cap_net_admin); a program the desktop user runs must gain no privilege, and the desktop has no use
# for them. python3 (in every package list) reads and removes the security.capability attribute.
no_file_capabilities() {
  banner "file capabilities"
  python3 - "$IMAGE_ROOT" <<'PY'
import os, sys
root = sys.argv[1]
device = os.lstat(root).st_dev
for top, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if os.lstat(os.path.join(top, d)).st_dev == device]
    for name in files:
        path = os.path.join(top, name)
        try:
            os.removexattr(path, "security.capability", follow_symlinks=False)
        except OSError:
            continue  # none (or a link, which cannot carry one)
        print(f"removed the file capabilities of {path}")
PY
}

main() {
  require_env ORCHIS_THEME_URL ORCHIS_THEME_COMMIT ORCHIS_THEME_VERSION \
    CASCADIA_CODE_URL CASCADIA_CODE_SHA256 CASCADIA_CODE_VERSION
  require_tools git sassc unzip fc-cache sha256sum python3
  mkdir -p "$WORK_DIR"
  orchis_theme
  cascadia_code
  desktop_defaults
  no_file_capabilities
  rm -rf "$WORK_DIR" /tmp/* /var/tmp/*
  banner "common system setup done"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
