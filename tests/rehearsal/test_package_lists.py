"""The package-lists job's Debian script, run for real in a trixie root filesystem.

tests/package_lists.py writes the script the workflow runs in each distro's base image; here the
Debian one runs in the rehearsal's stand-in for debian:13.2 (a debootstrap trixie rootfs with the
image's sources), with the repository at /helios-src, as the job mounts it. It enables deb-src with
the hook library, resolves steps 2, 6 and 9 and runs step 9's drop-in with apt in simulate mode.
"""

from __future__ import annotations

import pytest

from tests.package_lists import SRC, resolve_script
from tests.rehearsal.assemble import DISTRO_SUITE
from tests.rehearsal.chroot import (
    CACHE,
    IMAGE_PATH,
    Bind,
    Exec,
    RootfsSpec,
    host_apt_sources,
    host_arch,
    make_rootfs,
    run_in,
)
from tests.rehearsal.inputs import PrivateApt
from tests.rehearsal.results import REPO, Results


@pytest.mark.real_versions
def test_the_debian_resolve_script_resolves_in_the_base_image(results: Results) -> None:
    from tests.rehearsal.conftest import missing_prerequisite

    reason = missing_prerequisite()
    if reason:
        pytest.skip(reason)
    arch = host_arch()
    logs = results.logs / "package-lists"
    logs.mkdir(parents=True, exist_ok=True)
    sources = host_apt_sources()
    apt = PrivateApt(CACHE / "apt-sources", sources, DISTRO_SUITE, arch, logs / "inputs.log")
    spec = RootfsSpec(
        DISTRO_SUITE, arch, sources, keyring=str(apt.keyring(CACHE / "keyrings" / DISTRO_SUITE))
    )
    root = CACHE / "work" / "package-lists"
    make_rootfs(spec, root, logs / "rootfs.log")
    _, script = resolve_script("debian", f"linux/{arch}")
    (root / "resolve.sh").write_text(script)
    log = logs / "resolve.log"
    code = run_in(root, Exec(["bash", "/resolve.sh"], {"PATH": IMAGE_PATH}, [Bind(REPO, SRC)]), log)
    output = log.read_text()
    assert code == 0, output[-3000:]
    for heading in ("step 2: build-dep", "step 2: install", "step 6", "step 9", "step 9: distros/debian"):
        assert f"== {heading}" in output
    assert "Inst libfmt" in output.split("== step 9: distros/debian", 1)[1]
