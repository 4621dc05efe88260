"""The image carries a container health check that asks the desktop's own /healthz."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline import graph
from pipeline.graph import Sources
from pipeline.imageconfig import HEALTHCHECK
from pipeline.plan import Planner
from pipeline.tree import LocalTree
from tests.dagwalk import selections, source_directory

REPO = Path(__file__).resolve().parents[1]


def test_the_image_config_has_a_health_check_of_the_desktop(make_tree) -> None:
    plan = Planner(LocalTree(make_tree())).plan("base", "linux/amd64")
    image = graph.image(Sources(source_directory()), plan, labels={})
    checks = [field for field in selections(image) if field.name == "withDockerHealthcheck"]
    assert len(checks) == 1
    args = checks[0].args
    assert args["args"] == ["/opt/helios/libexec/check.sh", "healthz"]
    assert args["startPeriod"] == "300s", "as long as s6-overlay lets the boot take"
    assert not args.get("shell"), "exec form: the image need not have a shell on PATH for it"


def test_the_health_check_command_is_a_probe_of_check_sh(tmp_path: Path) -> None:
    """check.sh healthz passes on 200 only (503 while booting is unhealthy)."""
    script, probe = HEALTHCHECK
    assert script.startswith("/opt/helios/")
    local = REPO / "common/root" / script.removeprefix("/")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for status, healthy in (("200", True), ("503", False), ("000", False)):
        (bin_dir / "curl").write_text(f"#!/bin/sh\nprintf {status}\n")
        (bin_dir / "curl").chmod(0o755)
        result = subprocess.run(
            ["bash", str(local), probe],
            env={
                "PATH": f"{bin_dir}:/usr/bin:/bin",
                "HELIOS_LIB": str(REPO / "common/root/opt/helios/lib/helios.sh"),
            },
            capture_output=True,
            check=False,
        )
        assert (result.returncode == 0) is healthy, status
