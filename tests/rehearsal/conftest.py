"""The rehearsal's fixtures: the results folder and the image built for real (once per session).

Every test in tests/rehearsal carries the ``rehearsal`` marker and runs only when it is selected
(``python -m pytest -m rehearsal tests/rehearsal``): the build takes tens of minutes, needs root,
debootstrap, the shared input mirror and Debian's archive. A plain ``python -m pytest`` skips them
and says so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rehearsal.results import REPO, Results, results_dir

HERE = Path(__file__).parent
SELECT = "rehearsal tests run only when selected: python -m pytest -m rehearsal tests/rehearsal"
ARM64 = "rehearsal_arm64"
"""The marker that selects the whole rehearsal for linux/arm64 under emulation (on demand, not CI)."""


def emulated_arm64(config: pytest.Config) -> bool:
    """Whether this session rehearses linux/arm64 (``-m rehearsal_arm64``) instead of the host's platform."""
    return ARM64 in (config.option.markexpr or "").replace(f"not {ARM64}", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selected = "rehearsal" in (config.option.markexpr or "").replace("not rehearsal", "")
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.rehearsal)
            if emulated_arm64(config):
                item.add_marker(pytest.mark.rehearsal_arm64)
            if not selected:
                item.add_marker(pytest.mark.skip(reason=SELECT))
    # The second build goes last: it is the longest part, and a run short of time skips it alone.
    items.sort(key=lambda item: item.get_closest_marker("reproducible") is not None)


@pytest.fixture(scope="session")
def rehearsal_arch(request: pytest.FixtureRequest) -> str:
    """The architecture the session builds and boots: arm64 under ``-m rehearsal_arm64``, else the host's."""
    from tests.rehearsal.chroot import host_arch

    return "arm64" if emulated_arm64(request.config) else host_arch()


def shared_inputs_dir() -> Path:
    """The shared input mirror: HELIOS_REHEARSAL_INPUTS, else ../shared/inputs beside the checkout."""
    return Path(os.environ.get("HELIOS_REHEARSAL_INPUTS", REPO.parent / "shared" / "inputs"))


def missing_prerequisite(arch: str | None = None) -> str | None:
    """Why the build for ``arch`` (default: the host's) cannot run on this machine, or None."""
    from tests.rehearsal.chroot import emulation_problem
    from tests.rehearsal.s6 import cross_target

    if os.geteuid() != 0:
        return "the rehearsal needs root (debootstrap, chroot, mount namespaces)"
    for tool in ("debootstrap", "unshare", "npm", "zstd", "xz"):
        if shutil.which(tool) is None:
            return f"the rehearsal needs {tool} on PATH"
    if not (shared_inputs_dir() / "git").is_dir():
        return f"no shared input mirror at {shared_inputs_dir()} (set HELIOS_REHEARSAL_INPUTS)"
    if arch is not None:
        problem = emulation_problem(arch)
        if problem:
            return problem
        target = cross_target(arch)
        if target and shutil.which(f"{target}-gcc") is None:
            return f"s6 for {arch} is cross-compiled: apt-get install gcc-{target}"
    return None


@pytest.fixture(scope="session")
def results() -> Iterator[Results]:
    """The results folder; results.json and report.md are written when the session ends."""
    collected = Results(results_dir())
    yield collected
    collected.write()


@pytest.fixture(scope="session")
def built(results: Results, rehearsal_arch: str):
    """The Debian image built for real by steps 1-13 (see assemble.py), for ``rehearsal_arch``."""
    from tests.rehearsal.assemble import rehearse_build
    from tests.rehearsal.steps import StepError

    reason = missing_prerequisite(rehearsal_arch)
    if reason:
        pytest.skip(reason)
    try:
        return rehearse_build(REPO, shared_inputs_dir(), results, rehearsal_arch)
    except StepError as error:
        results.record("build failure", str(error))
        raise
    finally:
        results.write()


PREBUILT = "HELIOS_REHEARSAL_IMAGE"
"""Developer switch: the root of an image built earlier, to rerun the boot checks without the build.
CI never sets it; a run that used it says so in its results."""


@pytest.fixture(scope="session")
def image_root(request: pytest.FixtureRequest, results: Results) -> Path:
    """The assembled image's root filesystem (also kept at /var/cache/helios-rehearsal/work/image).

    With HELIOS_REHEARSAL_IMAGE=<dir>, that already-built root instead, and no build at all.
    """
    prebuilt = os.environ.get(PREBUILT)
    if not prebuilt:
        return Path(request.getfixturevalue("built").image)
    root = Path(prebuilt)
    if not (root / "init").is_file():
        pytest.fail(f"{PREBUILT}={prebuilt} is not an assembled image root (no /init there); "
                    "unset it to build the image, or point it at a copy of work/image", pytrace=False)  # fmt: skip
    results.record("image", f"built earlier, not by this run: {root} ({PREBUILT})")
    return root
