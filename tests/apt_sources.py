"""apt sources as the base images ship them, and as an archive snapshot rewrites them.

Quoted, never fetched from: the shapes of Debian 13 and Ubuntu 24.04 (deb822) and of Ubuntu 22.04
and Kali (one-line), for the tests of the hook library's archive part (lib/archive.sh).
"""

SNAPSHOT = "20260601T000000Z"
"""The moment the snapshot sources point at."""

DEBIAN_SOURCES = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20251117T000000Z
URIs: http://deb.debian.org/debian
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20251117T000000Z
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


DEBIAN_AT_SNAPSHOT = f"""\
Types: deb
# http://snapshot.debian.org/archive/debian/20251117T000000Z
URIs: http://snapshot.debian.org/archive/debian/{SNAPSHOT}/
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
Check-Valid-Until: no

Types: deb
# http://snapshot.debian.org/archive/debian-security/20251117T000000Z
URIs: http://snapshot.debian.org/archive/debian-security/{SNAPSHOT}/
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
Check-Valid-Until: no
"""


UBUNTU_SOURCES = """\
# Ubuntu sources have moved to the /etc/apt/sources.list.d/ubuntu.sources file
Types: deb
URIs: http://ports.ubuntu.com/ubuntu-ports/
Suites: noble noble-updates noble-backports
Components: main universe restricted multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg

## Ubuntu security updates. Aside from URIs and Suites,
## this should mirror your choices in the previous section.
Types: deb
URIs: http://ports.ubuntu.com/ubuntu-ports/
Suites: noble-security
Components: main universe restricted multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
Check-Valid-Until: yes
"""


JAMMY_LIST = """\
# See http://help.ubuntu.com/community/UpgradeNotes for how to upgrade to
deb http://archive.ubuntu.com/ubuntu/ jammy main restricted
# deb-src http://archive.ubuntu.com/ubuntu/ jammy main restricted
deb [arch=amd64 check-valid-until=yes] http://archive.ubuntu.com/ubuntu/ jammy-updates main restricted
deb http://security.ubuntu.com/ubuntu/ jammy-security main restricted
"""


JAMMY_AT_SNAPSHOT = f"""\
# See http://help.ubuntu.com/community/UpgradeNotes for how to upgrade to
deb [check-valid-until=no] http://snapshot.ubuntu.com/ubuntu/{SNAPSHOT}/ jammy main restricted
# deb-src http://archive.ubuntu.com/ubuntu/ jammy main restricted
deb [arch=amd64 check-valid-until=no] http://snapshot.ubuntu.com/ubuntu/{SNAPSHOT}/ jammy-updates main restricted
deb [check-valid-until=no] http://snapshot.ubuntu.com/ubuntu/{SNAPSHOT}/ jammy-security main restricted
"""


KALI_LIST = "deb http://http.kali.org/kali kali-rolling main contrib non-free non-free-firmware\n"
