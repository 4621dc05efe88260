"""The `helios` CLI through typer's CliRunner: output, exit codes, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import BASE_DISTRO, REPO

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def assert_user_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.stderr


def test_distros_lists_every_distro_with_its_description(make_tree):
    result = run("distros", "--root", str(make_tree()))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["DISTRO", "FAMILY", "BASE", "ALIASES", "DESCRIPTION"]
    assert lines[1].startswith("base ") and "A fixture distro" in lines[1] and "fixture" in lines[1]
    assert lines[2].startswith("child ")


def test_distros_finds_the_tree_above_the_current_folder(make_tree, monkeypatch):
    root = make_tree()
    monkeypatch.chdir(root / "distros" / "base")
    assert run("distros").exit_code == 0


def test_plan_prints_numbered_steps_with_stage_and_file(make_tree):
    result = run("plan", "--distro", "child", "--platform", "linux/arm64", "--root", str(make_tree()))
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert [row[0] for row in rows] == [str(n) for n in range(1, 14)]
    assert rows[0][:4] == ["1", "web", "repo", "common/build/novnc.sh"]
    assert rows[4][:4] == ["5", "kasm", "repo", "distros/base/build/xorg.sh"]
    assert rows[8][:4] == ["9", "system", "repo", "distros/child/build/system.sh"]
    assert rows[12][:4] == ["13", "image", "repo", "distros/base/root/"]
    assert "linux/arm64" in result.stdout.splitlines()[0]


def test_plan_digests_differ_only_where_a_change_reruns(make_tree):
    def digests(root):
        out = run("plan", "-d", "base", "--platform", "amd64", "--digests", "--root", str(root)).stdout
        return [line.split()[-1] for line in out.splitlines()[2:]]

    before = digests(make_tree(name="a"))
    after = digests(make_tree({"common/build/system.sh": "#!/bin/sh\necho 2\n"}, name="b"))
    assert [n + 1 for n, (x, y) in enumerate(zip(before, after, strict=True)) if x != y] == [10, 11, 12, 13]


def test_unknown_distro_is_a_one_line_error_with_a_suggestion(make_tree):
    result = run("plan", "--distro", "chil", "--root", str(make_tree()))
    assert_user_error(result, "unknown distro 'chil'", "known distros: base, child", "did you mean 'child'")


@pytest.mark.parametrize("name", ["../x", "a b", "rhel/9", " rhel"])
def test_names_that_are_not_plain_are_refused(make_tree, name):
    assert_user_error(run("plan", "--distro", name, "--root", str(make_tree())), "not a valid distro name")


def test_invalid_platform(make_tree):
    result = run("plan", "--distro", "base", "--platform", "linux/s390x", "--root", str(make_tree()))
    assert_user_error(result, "unsupported platform 'linux/s390x'", "linux/amd64, linux/arm64")


def test_broken_distro_toml_names_file_and_key(make_tree):
    root = make_tree({"distros/base/distro.toml": BASE_DISTRO.replace("webrtc = true", 'webrtc = "on"')})
    assert_user_error(run("distros", "--root", str(root)), "distros/base/distro.toml", "'webrtc'")


def test_missing_tree_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_user_error(run("distros"), "no Helios tree")


def test_validate_accepts_a_good_tree(make_tree):
    result = run("validate", "--root", str(make_tree()))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok:")


def test_validate_reports_every_problem(make_tree):
    root = make_tree(
        {
            "common/build/turbo.sh": "echo no shebang\n",
            "common/build/kasmm.sh": "#!/bin/sh\n",
            "distros/base/build/notes.txt": "x",
            "distros/child/extra.toml": "x",
            "distros/base/build/xorg.sh": None,
        }
    )
    result = run("validate", "--root", str(root))
    assert result.exit_code == 2
    err = result.stderr
    assert "common/build/kasmm.sh is not a known hook or file" in err and "did you mean 'kasm.sh'" in err
    assert "distros/base/build/notes.txt is not a known hook or file" in err
    assert "distros/child/extra.toml is not a known hook" in err
    assert "step 5 (xorg): hook distros/base/build/xorg.sh is missing" in err
    assert "problem(s) found" in err
    assert "Traceback" not in result.output


def test_validate_finds_a_missing_shebang(make_tree):
    result = run("validate", "--root", str(make_tree({"common/build/turbo.sh": "echo hi\n"})))
    assert result.exit_code == 2
    assert "step 3: common/build/turbo.sh has no shebang" in result.stderr


def test_validate_finds_a_hook_that_is_a_folder(make_tree):
    result = run(
        "validate", "--root", str(make_tree({"common/build/turbo.sh": None, "common/build/turbo.sh/x": "y"}))
    )
    assert result.exit_code == 2
    assert "common/build/turbo.sh is not a regular file" in result.stderr


def test_build_refuses_bad_input_before_connecting(make_tree, tmp_path):
    root = str(make_tree())
    assert_user_error(run("build", "--distro", "nope", "--root", root), "unknown distro 'nope'")
    missing = tmp_path / "no" / "such" / "dir" / "x.tar"
    assert_user_error(run("build", "-d", "base", "--export", str(missing), "--root", root), "is not a folder")
    assert not missing.exists()


@pytest.mark.real_versions
def test_the_repository_tree_is_valid():
    result = run("validate", "--root", str(REPO))
    assert result.exit_code == 0, result.output


def test_engine_free_commands_never_import_dagger():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from pipeline.cli import app\n"
        f"r = CliRunner().invoke(app, ['distros', '--root', {str(REPO)!r}])\n"
        "assert r.exit_code in (0, 2), r.output\n"
        "print(sorted(m for m in sys.modules if m == 'dagger' or m.startswith('dagger.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_engine_test_fixture_is_a_valid_tree():
    fixture = REPO / "tests" / "engine" / "fixture"
    result = run("validate", "--root", str(fixture))
    assert result.exit_code == 0, result.output
    plan = run("plan", "--distro", "tiny", "--platform", "linux/amd64", "--root", str(fixture))
    assert "distros/tiny/build/xorg.sh" in plan.stdout


def test_plan_names_the_hook_library_once(make_tree):
    root = make_tree({"common/build/lib.sh": 'say() { echo "$@"; }\n'})
    out = run("plan", "-d", "base", "--platform", "amd64", "--root", str(root)).stdout
    assert "every script gets common/build/lib.sh as /helios/hooks/lib.sh" in out.splitlines()[0]
    assert "lib.sh" not in "\n".join(out.splitlines()[1:])


@pytest.mark.slow
def test_the_startup_benchmark_runs_and_reports_its_ratios():
    script = REPO / "tests" / "benchmarks" / "cli_startup.py"
    out = subprocess.run(
        [sys.executable, str(script), "--runs", "1"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "ratio helios plan / import typer:" in out
    assert "ratio helios plan / minimal typer app:" in out


def test_build_without_an_engine_is_a_clear_error_not_a_traceback(monkeypatch, tmp_path):
    fixture = REPO / "tests" / "engine" / "fixture"
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", "/bin/false")  # a Dagger CLI that cannot start
    monkeypatch.delenv("DAGGER_SESSION_PORT", raising=False)
    monkeypatch.delenv("DAGGER_SESSION_TOKEN", raising=False)
    target = tmp_path / "tiny.tar"
    result = run("build", "-d", "tiny", "--root", str(fixture), "--export", str(target))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: could not start or reach a Dagger engine")
    assert "hint: install the Dagger CLI 0.21.8" in result.stderr
    assert "Traceback" not in result.output and not target.exists()


def test_validate_prints_each_hint_on_its_own_line_as_every_command_does(make_tree):
    root = make_tree({"common/build/kasmm.sh": "#!/bin/sh\n", "distros/base/build/notes.txt": "x"})
    result = run("validate", "--root", str(root))
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert "(hint:" not in result.stderr
    first = next(n for n, line in enumerate(lines) if "kasmm.sh is not a known hook" in line)
    assert lines[first].startswith("error: ") and lines[first + 1].startswith("hint: did you mean 'kasm.sh'?")
    assert [line for line in lines if not line.startswith(("error: ", "hint: "))] == [
        f"2 problem(s) found in {root}"
    ]
    assert lines[-1] == f"2 problem(s) found in {root}"  # the count ends the list


def test_an_error_with_problems_reports_each_with_its_hint_then_the_summary():
    from pipeline.errors import BuildError, HeliosError

    error = BuildError(
        "2 of 3 images failed",
        problems=[HeliosError("a failed", hint="fix a"), HeliosError("b failed")],
    )
    assert error.report() == ["error: a failed", "hint: fix a", "error: b failed", "2 of 3 images failed"]
    assert str(error) == "2 of 3 images failed:\na failed (hint: fix a)\nb failed"
    single = HeliosError("bad input", hint="do this")
    assert single.report() == ["error: bad input", "hint: do this"]
    assert (single.exit_code, error.exit_code) == (2, 1)


def test_an_unknown_hook_names_the_known_hooks_once(make_tree):
    result = run("validate", "--root", str(make_tree({"common/build/notes.txt": "x"})))
    assert result.exit_code == 2
    hint = next(line for line in result.stderr.splitlines() if line.startswith("hint: "))
    assert hint.startswith("hint: known hooks here: novnc.sh, turbo.sh") and hint.count("known") == 1
