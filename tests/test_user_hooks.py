"""A user's own hooks and overlays over ours (`--hooks ./site`): replacement, drop-ins, precedence."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import graph
from pipeline.cli import app
from pipeline.failure import describe_failure
from pipeline.layers import Layers
from pipeline.plan import Planner
from pipeline.tree import LocalTree
from tests.conftest import BASE_DISTRO, write_files
from tests.dagwalk import USER_PATH, Keyer, container_state, selections, source_directory

HOOK = "#!/bin/sh\necho site hook\n"


@pytest.fixture
def site(tmp_path: Path):
    """Write a user's hooks tree; returns a factory taking path -> text."""

    def make(files: dict[str, str | None], name: str = "site") -> Path:
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        return write_files(root, files)

    return make


def planner(repo: Path, user: Path | None) -> Planner:
    layers = Layers(LocalTree(repo), LocalTree(user) if user else None, user_label="site")
    return Planner(layers)


def runs_of(plan, number: int) -> list[tuple[str, str]]:
    return [(run.script.layer, run.script.path) for run in plan.step(number).runs]


def test_a_known_hook_name_replaces_ours(make_tree, site):
    user = site({"common/build/system.sh": HOOK, "distros/base/build/kasm.sh": HOOK})
    plan = planner(make_tree(), user).plan("child", "linux/amd64")
    assert runs_of(plan, 10) == [("user", "common/build/system.sh")]
    # child has no kasm.sh of its own, so it inherits base's, and the user's copy of it wins
    assert runs_of(plan, 2) == [("user", "distros/base/build/kasm.sh")]
    assert runs_of(plan, 9) == [("repo", "distros/child/build/system.sh")]
    assert str(plan.step(10).hook) == "site/common/build/system.sh"


def test_drop_ins_run_after_their_hook_in_lexical_order(make_tree, site):
    repo = make_tree(
        {
            "distros/base/build/system.d/20-repo.sh": HOOK,
            "distros/base/build/system.d/30-replaced.sh": HOOK,
            "distros/child/build/system.d/25-child.sh": HOOK,
        }
    )
    user = site(
        {
            "distros/child/build/system.d/10-first.sh": HOOK,
            "distros/child/build/system.d/30-replaced.sh": HOOK,
            "distros/child/build/system.d/ca.crt": "-----BEGIN CERTIFICATE-----\n",
        }
    )
    plan = planner(repo, user).plan("child", "linux/amd64")
    assert runs_of(plan, 9) == [
        ("repo", "distros/child/build/system.sh"),
        ("user", "distros/child/build/system.d/10-first.sh"),
        ("repo", "distros/base/build/system.d/20-repo.sh"),
        ("repo", "distros/child/build/system.d/25-child.sh"),
        ("user", "distros/child/build/system.d/30-replaced.sh"),
    ]
    first = plan.step(9).runs[1]
    assert first.mounted == "09-system.d-10-first.sh"
    assert [ref.name for ref in first.files] == ["ca.crt"]
    assert all(run.files == () for run in plan.step(9).runs[:1])


def test_drop_ins_work_in_the_repository_tree_too(make_tree):
    repo = make_tree({"common/build/kasm.d/50-extra.sh": HOOK})
    plan = Planner(LocalTree(repo)).plan("base", "linux/amd64")
    assert runs_of(plan, 4) == [("repo", "common/build/kasm.sh"), ("repo", "common/build/kasm.d/50-extra.sh")]


def test_overlays_apply_repo_common_repo_distro_user_common_user_distro(make_tree, site):
    user = site({"common/root/etc/a": "u", "distros/child/root/etc/a": "uc", "distros/base/root/etc/b": "ub"})
    plan = planner(make_tree(), user).plan("child", "linux/amd64")
    order = [str(ref) for step in (12, 13) for ref in plan.step(step).overlays]
    assert order == [
        "common/root",
        "distros/base/root",
        "distros/child/root",
        "site/common/root",
        "site/distros/base/root",
        "site/distros/child/root",
    ]


def test_a_user_distro_adds_a_distro(make_tree, site):
    user = site(
        {
            "distros/mine/distro.toml": 'description = "Our studio image"\nextends = "base"\naliases = ["studio"]\n',
            "distros/mine/build/system.sh": HOOK,
        }
    )
    p = planner(make_tree(), user)
    assert "mine" in p.catalogue.names()
    plan = p.plan("studio", "linux/arm64")
    assert runs_of(plan, 9) == [("user", "distros/mine/build/system.sh")]
    assert runs_of(plan, 5) == [("repo", "distros/base/build/xorg.sh")]


def test_a_user_distro_toml_replaces_ours(make_tree, site):
    user = site({"distros/base/distro.toml": BASE_DISTRO.replace("debian:13.2", "debian:13.9")})
    assert planner(make_tree(), user).plan("base", "linux/amd64").base == "debian:13.9"


def test_bad_user_distro_toml_names_the_user_file(make_tree, site):
    from pipeline.errors import HeliosError

    user = site({"distros/base/distro.toml": "base = 3\n"})
    with pytest.raises(HeliosError, match=r"site/distros/base/distro\.toml: key 'base'"):
        planner(make_tree(), user)


def test_a_failing_drop_in_is_named_in_the_report(make_tree, site):
    user = site({"distros/base/build/system.d/50-firefox.sh": HOOK})
    plan = planner(make_tree(), user).plan("base", "linux/amd64")
    report = describe_failure(plan, ["/helios/hooks/09-system.d-50-firefox.sh"], 7, "", "no such package\n")
    assert report.startswith(
        "step 9 (system · system) failed: site/distros/base/build/system.d/50-firefox.sh"
    )
    assert "exited with code 7" in report and "no such package" in report


def image_keys(repo: Path, user: Path):
    plan = planner(repo, user).plan("base", "linux/amd64")
    sources = graph.Sources(source_directory(), source_directory(USER_PATH))
    image = graph.image(sources, plan)
    return plan, image, Keyer(LocalTree(repo), LocalTree(user))


def test_adding_a_system_drop_in_reruns_no_kasm_step(make_tree, site):
    repo = make_tree()
    user = site({"common/root/etc/x": "x"})
    _, image, keyer = image_keys(repo, user)
    before = keyer.exec_keys(image)
    write_files(user, {"distros/base/build/system.d/50-x.sh": HOOK})
    _, image_after, keyer_after = image_keys(repo, user)
    after = keyer_after.exec_keys(image_after)
    assert set(after) - set(before) == {"step 9 system.d-50-x.sh"}
    changed = sorted(label for label in before if before[label] != after[label])
    assert changed == ["link check", "packages record", "step 10"], (
        "only what follows the new script in the system stage re-runs"
    )


def test_user_files_come_from_the_user_directory_and_leave_nothing_behind(make_tree, site):
    user = site({"common/build/turbo.sh": HOOK, "common/root/etc/x": "x"})
    _, image, keyer = image_keys(make_tree(), user)
    keys = keyer.exec_keys(image)
    assert (
        f"content(common/build/turbo.sh:{LocalTree(user).digest('common/build/turbo.sh')})" in keys["step 3"]
    )
    assert container_state(selections(image))["mounts"] == {}
    copies = [keyer.value(src) for _, src in container_state(selections(image))["copies"]]
    assert copies[-1].startswith("{content(common/root:")  # the user's common overlay comes last here


runner = CliRunner()


def test_cli_plan_shows_where_each_file_comes_from(make_tree, site):
    user = site({"common/build/system.sh": HOOK, "common/build/system.d/50-firefox.sh": HOOK})
    result = runner.invoke(
        app, ["plan", "-d", "base", "--platform", "amd64", "--root", str(make_tree()), "--hooks", str(user)]
    )
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert ["10", "system", "user", f"{user}/common/build/system.sh"] in rows
    assert ["10.1", "system", "user", f"{user}/common/build/system.d/50-firefox.sh"] in rows
    assert ["3", "kasm", "repo", "common/build/turbo.sh"] in rows


def test_cli_validate_checks_a_hooks_tree(make_tree, site):
    user = site(
        {
            "README.md": "notes",
            "common/packages.toml": "lists = []\n",
            "common/build/sytem.sh": HOOK,
            "common/build/systm.d/10-x.sh": HOOK,
            "common/build/system.d/20-noshebang.sh": "echo hi\n",
            "distros/base/build/xorg.sh": "echo no shebang\n",
            "distros/base/notes.txt": "x",
        }
    )
    result = runner.invoke(app, ["validate", "--root", str(make_tree()), "--hooks", str(user)])
    assert result.exit_code == 2
    err = result.stderr
    assert f"{user}/README.md is not a known hook, file or folder" in err
    assert f"{user}/common/packages.toml is not a known hook, file or folder" in err
    assert (
        f"{user}/common/build/sytem.sh is not a known hook or file" in err
        and "did you mean 'system.sh'" in err
    )
    assert f"{user}/common/build/systm.d is a drop-in folder for a hook that does not exist" in err
    assert "did you mean 'system.d'" in err
    assert f"{user}/common/build/system.d/20-noshebang.sh has no shebang" in err
    assert f"step 5: {user}/distros/base/build/xorg.sh has no shebang" in err
    assert f"{user}/distros/base/notes.txt is not a known hook, file or folder" in err
    assert "Traceback" not in result.output


def test_cli_validate_accepts_a_good_hooks_tree(make_tree, site):
    user = site({"common/build/system.d/50-firefox.sh": HOOK, "common/root/etc/x": "x"})
    result = runner.invoke(app, ["validate", "--root", str(make_tree()), "--hooks", str(user)])
    assert result.exit_code == 0, result.output


def test_cli_refuses_a_missing_hooks_folder(make_tree, tmp_path):
    result = runner.invoke(
        app, ["plan", "-d", "base", "--root", str(make_tree()), "--hooks", str(tmp_path / "nope")]
    )
    assert result.exit_code == 2 and "no such folder" in result.stderr
