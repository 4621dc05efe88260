"""Plans: the 13-step order for every distro, hook resolution through `extends`, env and digests."""

from __future__ import annotations

import pytest

from pipeline.errors import HeliosError
from pipeline.order import BUILD_ORDER, Action, Scope, Stage
from pipeline.plan import Planner
from pipeline.tree import LocalTree
from tests.conftest import REPO

STAGES = ["web"] + ["kasm"] * 7 + ["system"] * 2 + ["image"] * 3
RUNS = [
    "common/build/novnc.sh", "distros/{d}/build/kasm.sh", "common/build/turbo.sh", "common/build/kasm.sh",
    "distros/{d}/build/xorg.sh", "distros/{d}/build/kclient.sh", "common/build/kclient.sh",
    "common/build/package.sh", "distros/{d}/build/system.sh", "common/build/system.sh",
]  # fmt: skip


def planner(root) -> Planner:
    return Planner(LocalTree(root))


def test_the_build_order_table_is_the_documented_one():
    assert [s.number for s in BUILD_ORDER] == list(range(1, 14))
    assert [s.stage.value for s in BUILD_ORDER] == STAGES
    hooks = [s for s in BUILD_ORDER if s.is_hook]
    expected = [r.replace("distros/{d}/build/", "D:").replace("common/build/", "C:") for r in RUNS]
    assert [("D:" if s.scope is Scope.DISTRO else "C:") + s.name for s in hooks] == expected
    assert [s.action for s in BUILD_ORDER[10:]] == [Action.JOIN, Action.OVERLAY, Action.OVERLAY]


@pytest.mark.real_versions
@pytest.mark.parametrize("distro", ["debian", "kali", "ubuntu", "jammy", "rhel", "alma", "alpine"])
@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_every_shipped_distro_plans_in_the_13_step_order(distro, platform):
    plan = planner(REPO).plan(distro, platform)
    assert [p.step.number for p in plan.steps] == list(range(1, 14))
    lineage = plan.distro.lineage
    for planned, pattern in zip(plan.steps, RUNS, strict=False):
        candidates = [pattern.format(d=name) for name in lineage]
        assert planned.hook.path == next(c for c in candidates if (REPO / c).is_file())
    assert [str(ref) for ref in plan.step(12).overlays] == ["common/root"]
    assert plan.packages, "the package list must not be empty"


def test_extends_takes_missing_hooks_from_the_parent_and_own_ones_first(make_tree):
    plan = planner(make_tree()).plan("child", "linux/amd64")
    assert str(plan.step(2).hook) == "distros/base/build/kasm.sh"
    assert str(plan.step(9).hook) == "distros/child/build/system.sh"
    assert [str(ref) for ref in plan.step(13).overlays] == ["distros/base/root", "distros/child/root"]
    assert plan.base == "debian:12"


def test_aliases_resolve(make_tree):
    assert planner(make_tree()).plan("fixture", "linux/arm64").distro.name == "base"


def test_extras_are_the_declared_files_next_to_the_hook(make_tree):
    plan = planner(make_tree({"common/build/novnc-20-more.patch": "x"})).plan("base", "linux/amd64")
    assert [str(ref) for ref in plan.step(1).extras] == [
        "common/build/novnc-10-ui.patch", "common/build/novnc-20-more.patch", "common/build/splash.jpg"
    ]  # fmt: skip
    assert [str(ref) for ref in plan.step(7).extras] == ["common/build/kclient-10-audio.patch"]
    assert all(not p.extras for p in plan.steps if p.runs and p.step.number not in (1, 7))


def test_versions_reach_only_the_steps_that_declare_them(make_tree):
    plan = planner(make_tree()).plan("base", "linux/arm64")
    owners = {
        name: sorted(p.step.number for p in plan.steps if name in p.env)
        for name in ("KASMVNC_VERSION", "KASMWEB_COMMIT", "XORG_SHA256", "LIBJPEG_TURBO_SHA256")
    }
    assert owners == {
        "KASMVNC_VERSION": [4, 8], "KASMWEB_COMMIT": [1], "XORG_SHA256": [5], "LIBJPEG_TURBO_SHA256": [3]
    }  # fmt: skip
    assert plan.step(5).env["XORG_VERSION"] == "1.20.14"
    assert plan.step(2).env["HELIOS_ARCH"] == "arm64"


def test_the_web_step_does_not_vary_by_distro_or_platform(make_tree):
    root = make_tree()
    a = planner(root).plan("base", "linux/amd64").step(1)
    b = planner(root).plan("fixture", "linux/arm64").step(1)
    c = planner(root).plan("child", "linux/amd64").step(1)  # webrtc off
    assert a.env == b.env and a.digest == b.digest
    assert c.env["HELIOS_WEBRTC"] == "false" and c.digest != a.digest
    assert "HELIOS_ARCH" not in a.env and "HELIOS_DISTRO" not in a.env


def test_arch_keyed_versions_resolve_for_the_target(make_tree):
    root = make_tree()
    amd = planner(root).plan("base", "linux/amd64").step(6).env["NODEJS_SHA256"]
    arm = planner(root).plan("base", "linux/arm64").step(6).env["NODEJS_SHA256"]
    assert amd != arm and len(amd) == 64


def digests(root, distro="base"):
    return {p.step.number: p.digest for p in planner(root).plan(distro, "linux/amd64").steps}


def changed_steps(make_tree, changes, distro="base", base_changes=None):
    before = digests(make_tree(base_changes, name="a"), distro)
    after = digests(make_tree({**(base_changes or {}), **changes}, name="b"), distro)
    return sorted(n for n in before if before[n] != after[n])


def test_digests_show_which_steps_a_change_reruns(make_tree):
    assert changed_steps(make_tree, {"common/build/system.sh": "#!/bin/sh\necho v2\n"}) == [10, 11, 12, 13]
    assert changed_steps(make_tree, {"common/root/etc/helios/common.conf": "v2"}) == [12, 13]
    assert changed_steps(make_tree, {"distros/base/build/xorg.sh": "#!/bin/sh\necho v2\n"}) == [
        5,
        6,
        7,
        8,
        11,
        12,
        13,
    ]
    assert changed_steps(make_tree, {"common/build/novnc-10-ui.patch": "v2"}) == [1, 8, 11, 12, 13]
    assert changed_steps(
        make_tree,
        {
            "common/packages.toml": 'lists = ["debian", "ubuntu", "rhel", "alpine"]\n'
            '[base]\nbash = "bash"\nvim = "vim"\n'
        },
    ) == [9, 10, 11, 12, 13]


def test_a_child_hook_edit_does_not_touch_the_parent(make_tree):
    assert changed_steps(make_tree, {"distros/child/build/system.sh": "#!/bin/sh\necho v2\n"}, "base") == []


def test_base_override(make_tree):
    plan = planner(make_tree()).plan("base", "linux/amd64", base="almalinux:9.6")
    assert plan.base == "almalinux:9.6"
    with pytest.raises(HeliosError, match="not an image reference"):
        planner(make_tree(name="x")).plan("base", "linux/amd64", base="bad ref")


def test_missing_required_hook_names_step_and_paths(make_tree):
    root = make_tree({"distros/base/build/xorg.sh": None})
    with pytest.raises(HeliosError) as caught:
        planner(root).plan("child", "linux/amd64")
    assert "step 5 (xorg): hook distros/child/build/xorg.sh is missing" in caught.value.message
    assert "distros/base/build/xorg.sh" in (caught.value.hint or "")


def test_unknown_x_server_version_has_no_checksum(make_tree):
    from tests.conftest import BASE_DISTRO

    root = make_tree({"distros/base/distro.toml": BASE_DISTRO.replace("1.20.14", "9.9.9")})
    with pytest.raises(HeliosError, match=r"no sha256 for X server 9\.9\.9"):
        planner(root).plan("base", "linux/amd64")


@pytest.mark.parametrize("platform", ["linux/s390x", "windows/amd64", "", "amd65"])
def test_invalid_platform(make_tree, platform):
    with pytest.raises(HeliosError, match="unsupported platform"):
        planner(make_tree()).plan("base", platform)


def test_stage_lookup(make_tree):
    plan = planner(make_tree()).plan("base", "linux/amd64")
    assert [p.step.number for p in plan.stage(Stage.KASM)] == [2, 3, 4, 5, 6, 7, 8]


def test_the_hook_library_is_mounted_beside_every_script_and_keys_every_step(make_tree):
    library = {"common/build/lib.sh": '# shared functions\nsay() { echo "$@"; }\n'}
    root = make_tree({**library, "common/build/system.d/50-x.sh": "#!/bin/sh\n"})
    plan = planner(root).plan("base", "linux/amd64")
    for planned in plan.steps:
        for run in planned.runs:
            assert [ref.path for ref in run.files][-1] == "common/build/lib.sh", run.mounted
    changed = changed_steps(make_tree, {"common/build/lib.sh": "# v2\n"}, base_changes=library)
    assert changed == list(range(1, 14)), "every hook may use the library, so every step depends on it"
