"""The lazy Dagger graph, built with the real dagger-io SDK and no engine, walked and checked."""

from __future__ import annotations

import pytest

from pipeline.linkcheck import LINK_CHECK
from pipeline.tree import LocalTree
from tests.conftest import REPO
from tests.dagwalk import Keyer, container_state, hook_path, reachable, selections
from tests.helpers import KASM_FROM, build, changed, edit
from tests.shellast import library_calls, read_library

SHIPPED = ["debian", "kali", "ubuntu", "jammy", "rhel", "alma", "alpine"]
HOOK_STEPS = [f"step {n}" for n in range(1, 11)]


def field_names(obj) -> list[str]:
    return [f.name for f in selections(obj)]


@pytest.mark.real_versions
@pytest.mark.parametrize("distro", SHIPPED)
@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_every_distro_builds_a_graph_with_one_exec_per_hook(distro, platform):
    plan, image = build(REPO, distro, platform)
    keys = Keyer(LocalTree(REPO)).exec_keys(image)
    drop_ins = [
        f"step {p.step.number} {run.mounted.split('-', 1)[1]}" for p in plan.steps for run in p.runs[1:]
    ]
    assert sorted(keys) == sorted([*HOOK_STEPS, *drop_ins, "s6", "link check", "packages record"])
    commands = {
        str(f.args["args"]) for obj in reachable(image) for f in selections(obj) if f.name == "withExec"
    }
    assert len(set(keys.values())) == len(keys) == len(commands), "the walk sees every exec, once"
    base_pulls = [f.args["address"] for obj in reachable(image) for f in selections(obj) if f.name == "from"]
    assert plan.base in base_pulls and plan.web_image in base_pulls
    platforms = {
        str(f.args.get("platform"))
        for obj in reachable(image)
        for f in selections(obj)
        if f.name == "container" and f.args.get("platform")
    }
    assert platforms == {platform}


def test_each_hook_step_mounts_only_its_own_script_and_declared_extras(make_tree):
    root = make_tree()
    plan, image = build(root, "child")
    keyer = Keyer(LocalTree(root))
    mounted: dict[int, list[tuple[str, str]]] = {}
    for obj in reachable(image):
        fields = selections(obj)
        for index, field in enumerate(fields):
            if field.name != "withExec" or not hook_path(field.args["args"]).startswith("/helios/hooks/"):
                continue
            number = int(hook_path(field.args["args"]).rsplit("/", 1)[-1].split("-")[0])
            mount = next(
                f
                for f in reversed(fields[:index])
                if f.name == "withMountedDirectory" and f.args["path"] == "/helios/hooks"
            )
            hook_dir = selections(mount.args["source"])
            assert [f.name for f in hook_dir] == ["directory"] + ["withFile"] * (len(hook_dir) - 1)
            mounted[number] = [(f.args["path"], keyer.value(f.args["source"])) for f in hook_dir[1:]]
    assert sorted(mounted) == list(range(1, 11))
    for planned in plan.steps[:10]:
        files = mounted[planned.step.number]
        hook_name = f"{planned.step.number:02d}-{planned.step.name}"
        expected = [(hook_name, planned.hook.path)] + [(ref.name, ref.path) for ref in planned.extras]
        assert [(name, src.split(":")[0].removeprefix("{content(")) for name, src in files] == expected


def test_overlays_come_in_order_after_the_rootfs_and_s6(make_tree):
    root = make_tree()
    _, image = build(root, "child")
    keyer = Keyer(LocalTree(root))
    copies = container_state(selections(image))["copies"]
    assert all(path == "/" for path, _ in copies)
    sources = [keyer.value(src) for _, src in copies]
    assert "tar -C /s6" in sources[0]  # s6-overlay
    assert "/helios/out" in sources[1] and "package.sh" in sources[1]  # the packaged rootfs of step 8
    assert [s.split(":")[0] for s in sources[2:]] == [
        "{content(common/root",
        "{content(distros/base/root",
        "{content(distros/child/root",
    ]


def test_nothing_of_the_build_reaches_the_image(make_tree):
    root = make_tree()
    plan, image = build(root, "base")
    state = container_state(selections(image))
    assert state["mounts"] == {}, "hooks, caches and inputs must all be unmounted"
    assert state["env"] == dict(plan.image_env), "hook environment must not leak into the image"
    names = field_names(image)
    copies = [index for index, name in enumerate(names) if name == "withDirectory"]
    joined, first_overlay = copies[1], copies[2]  # s6-overlay, step 8's rootfs, then the overlays
    checks = [
        field.args["args"] for field in selections(image)[joined:first_overlay] if field.name == "withExec"
    ]
    assert checks == [["sh", "-c", LINK_CHECK]], "only the shared-library check runs after the join"
    assert "withExec" not in names[first_overlay:], "no step may run after the overlays"
    assert names[-1] == "withLabel" and names.count("withEntrypoint") == 1
    entry = next(f for f in selections(image) if f.name == "withEntrypoint")
    assert entry.args["args"] == ["/init"]
    port = next(f for f in selections(image) if f.name == "withExposedPort")
    assert port.args["port"] == 3000
    assert "withoutDefaultArgs" in names


def test_package_caches_are_locked_cache_volumes_removed_after_use(make_tree):
    root = make_tree()
    _, image = build(root, "base")
    caches = set()
    for obj in reachable(image):
        for field in selections(obj):
            if field.name == "withMountedCache":
                caches.add((field.args["path"], str(field.args.get("sharing"))))
    assert ("/var/cache/apt", "LOCKED") in caches
    assert ("/var/lib/apt/lists", "LOCKED") in caches
    assert any(path == "/root/.npm" for path, _ in caches)
    # The stage outputs (directories taken from a container) are taken after every unmount.
    outputs = [obj for obj in reachable(image) if field_names(obj)[-1:] == ["directory"]]
    outputs = [obj for obj in outputs if "withExec" in field_names(obj)]
    assert len(outputs) == 3  # web client, kasm rootfs, s6-overlay
    for obj in outputs:
        assert container_state(selections(obj)[:-1])["mounts"] == {}


def JOINED(system: bool = False) -> list[str]:  # noqa: N802 - reads as a constant in the table below
    """What runs after a re-run stage: the link check of the joined image, and after the system
    stage the record of its packages."""
    return ["link check", *(["packages record"] if system else [])]


@pytest.mark.real_versions
@pytest.mark.parametrize(
    ("path", "reruns", "image_changes"),
    [
        ("common/build/system.sh", ["step 10", *JOINED(True)], True),
        ("distros/rhel/build/xorg.sh", [*KASM_FROM(5), *JOINED()], True),
        ("common/build/kclient.sh", [*KASM_FROM(7), *JOINED()], True),
        # The hook library: a part re-runs the steps that mount it, and what follows them.
        ("common/build/lib/xorg.sh", [*KASM_FROM(5), *JOINED()], True),
        ("common/build/lib/git.sh", ["step 1", *KASM_FROM(4), "step 10", *JOINED(True)], True),
        (
            "common/build/lib/download.sh",
            # RHEL's step 2 hook calls nothing of it, its drop-in does (through lib/static.sh).
            ["step 2 kasm.d-50-kasmvnc-libraries.sh", *KASM_FROM(3), "step 10", *JOINED(True)],
            True,
        ),
        ("common/build/lib/packages.sh", ["step 9", "step 10", *JOINED(True)], True),
        ("common/build/lib/arch.sh", ["step 8", *JOINED()], True),
        # A Debian-family part: no RHEL script calls it, so no RHEL step re-runs.
        ("common/build/lib/apt.sh", [], False),
    ],
)
def test_cache_isolation_on_a_copy_of_the_repository(repo_copy, path, reruns, image_changes):
    _, image_before = build(repo_copy, "rhel")
    before = Keyer(LocalTree(repo_copy)).exec_keys(image_before)
    whole_before = Keyer(LocalTree(repo_copy)).key(selections(image_before))
    edit(repo_copy, path)
    _, image_after = build(repo_copy, "rhel")
    after = Keyer(LocalTree(repo_copy)).exec_keys(image_after)
    assert changed(before, after) == reruns
    assert (Keyer(LocalTree(repo_copy)).key(selections(image_after)) != whole_before) is image_changes


@pytest.mark.real_versions
def test_editing_the_common_overlay_runs_no_step_but_changes_the_image(repo_copy):
    overlay_file = next(p for p in sorted((repo_copy / "common/root").rglob("*")) if p.is_file())
    _, image_before = build(repo_copy, "rhel")
    keyer = Keyer(LocalTree(repo_copy))
    before, whole_before = keyer.exec_keys(image_before), keyer.key(selections(image_before))
    edit(repo_copy, overlay_file.relative_to(repo_copy).as_posix())
    _, image_after = build(repo_copy, "rhel")
    assert keyer.exec_keys(image_after) == before
    assert keyer.key(selections(image_after)) != whole_before


def test_editing_a_distro_hook_of_another_distro_changes_nothing(make_tree):
    root = make_tree()
    _, image = build(root, "base")
    keyer = Keyer(LocalTree(root))
    before = keyer.key(selections(image))
    edit(root, "distros/child/build/system.sh")
    assert keyer.key(selections(build(root, "base")[1])) == before


def test_the_web_client_graph_is_shared_by_distros_with_the_same_webrtc_setting(make_tree):
    root = make_tree()
    keyer = Keyer(LocalTree(root))
    amd = keyer.exec_keys(build(root, "base", "linux/amd64")[1])
    arm = keyer.exec_keys(build(root, "base", "linux/arm64")[1])
    other = keyer.exec_keys(build(root, "child", "linux/amd64")[1])  # webrtc off
    assert amd["step 1"] == arm["step 1"]
    assert amd["s6"] != arm["s6"]
    assert other["step 1"] != amd["step 1"]


def test_each_stage_has_its_own_locked_caches_so_stages_never_wait_for_each_other(make_tree):
    _, image = build(make_tree(), "base")
    keys: dict[str, set[str]] = {}
    for obj in reachable(image):
        fields = selections(obj)
        for field in fields:
            if field.name == "withMountedCache":
                cache = selections(field.args["cache"])[-1].args["key"]
                keys.setdefault(field.args["path"], set()).add(cache)
    assert keys["/var/cache/apt"] == {
        "helios-base-amd64-kasm-var-cache-apt",
        "helios-base-amd64-system-var-cache-apt",
    }


@pytest.mark.real_versions
def test_each_exec_finds_what_its_helios_paths_name_and_only_its_library_parts():
    """In the graph itself: HELIOS_WEB and HELIOS_PACKAGES name mounts that exist for that exec, and
    /helios/hooks holds lib.sh with exactly the parts its script uses (as shfmt reads it)."""
    plan, image = build(REPO, "rhel")
    seen: dict[int, dict[str, object]] = {}
    for obj in reachable(image):
        fields = selections(obj)
        for index, field in enumerate(fields):
            command = hook_path(field.args["args"]) if field.name == "withExec" else ""
            if not command.startswith("/helios/hooks/") or ".d-" in command:
                continue
            state = container_state(fields[:index])
            mount = next(f for f in reversed(fields[:index]) if f.args.get("path") == "/helios/hooks")
            names = [f.args["path"] for f in selections(mount.args["source"])[1:]]
            number = int(command.rsplit("/", 1)[-1].split("-")[0])
            seen[number] = {**state, "hooks": names, "script": plan.step(number).hook.path}
    assert sorted(seen) == list(range(1, 11))
    library = read_library(REPO / "common/build/lib")
    for number, state in seen.items():
        env, mounts = state["env"], state["mounts"]
        assert env["HELIOS_HOOKS"] == "/helios/hooks" and env["HELIOS_LIB"] == "/helios/hooks/lib.sh"
        for name in ("HELIOS_WEB", "HELIOS_PACKAGES"):
            assert (name in env) is (env.get(name) in mounts), f"step {number}: {name} without its mount"
        parts = sorted(name for name in state["hooks"] if name.startswith("lib/"))
        assert "lib.sh" in state["hooks"]
        uses = library_calls(REPO / state["script"], library)
        assert parts == sorted(f"lib/{part}.sh" for part in uses), number
    assert "HELIOS_WEB" in seen[8]["env"] and "HELIOS_PACKAGES" in seen[9]["env"]
