"""The smoke check: its graph (s6 as PID 1 behind a service binding) and its probe script, run here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dagger
import pytest
from dagger import dag

from pipeline import smoke
from pipeline.main import Helios
from tests.dagwalk import reachable, selections


def fake_curl(folder: Path, health: str, page: str) -> Path:
    """A curl stand-in: prints ``health`` for URLs ending in healthz, ``page`` otherwise."""
    script = folder / "curl"
    script.write_text(
        "#!/bin/sh\n"
        "for last; do :; done\n"
        'case "$last" in *healthz) printf %s "$HEALTH" ;; *) printf %s "$PAGE" ;; esac\n'
    )
    script.chmod(0o755)
    return folder


def run_probe(
    tmp_path: Path, health: str, page: str, timeout: int = 2, hold: int = 0
) -> subprocess.CompletedProcess:
    bin_dir = fake_curl(tmp_path, health, page)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HEALTH": health, "PAGE": page}
    script = smoke.probe_script("http://helios:3000/", timeout, hold)
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, timeout=60)


def flapping_curl(folder: Path) -> Path:
    """A curl stand-in whose /healthz alternates ready and down:svc-desktop, call by call, as
    health.sh answers for a session that dies every few seconds."""
    script = folder / "curl"
    script.write_text(
        "#!/bin/sh\n"
        'count=$(cat "$COUNTER" 2>/dev/null || echo 0); echo $((count + 1)) >"$COUNTER"\n'
        "if [ $((count % 2)) -eq 0 ]; then printf ready; else printf down:svc-desktop; fi\n"
    )
    script.chmod(0o755)
    return folder


@pytest.mark.slow
def test_probe_waits_until_ready_has_held(tmp_path):
    result = run_probe(tmp_path, "ready", "<!DOCTYPE html><html></html>", timeout=20, hold=3)
    assert result.returncode == 0, result.stderr
    assert "stayed so for 3s" in result.stdout


@pytest.mark.slow
def test_probe_fails_a_desktop_that_keeps_dying(tmp_path):
    bin_dir = flapping_curl(tmp_path)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "COUNTER": str(tmp_path / "count")}
    script = smoke.probe_script("http://helios:3000/", 8, 3)
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "did not stay ready for 3s within 8s" in result.stderr


def test_the_hold_outlasts_two_health_intervals():
    assert smoke.HOLD_SECONDS > 2 * 5, "health.sh samples every 5 s (HELIOS_HEALTH_INTERVAL)"


def test_probe_passes_when_ready_and_serving_html(tmp_path):
    result = run_probe(tmp_path, "ready", "<!DOCTYPE html><html><title>Helios</title></html>")
    assert result.returncode == 0, result.stderr
    assert "reports ready" in result.stdout and "serves the web client" in result.stdout


@pytest.mark.slow
def test_probe_fails_in_time_when_never_ready(tmp_path):
    result = run_probe(tmp_path, "starting", "<html></html>", timeout=1)
    assert result.returncode == 1
    assert "did not stay ready for 0s within 1s" in result.stderr


def test_probe_fails_when_the_page_is_not_html(tmp_path):
    result = run_probe(tmp_path, "ready", "502 Bad Gateway")
    assert result.returncode == 1
    assert "did not return an HTML page" in result.stderr


def test_the_image_runs_with_s6_as_pid_1_behind_a_service_binding():
    image = dag.container().from_("example:1")
    probe = smoke.probe(image, "node:22", timeout=60, nonce="n")
    services = [f for obj in reachable(probe) for f in selections(obj) if f.name == "asService"]
    assert len(services) == 1
    assert services[0].args["args"] == ["/init"] and services[0].args["noInit"] is True
    binding = next(f for f in selections(probe) if f.name == "withServiceBinding")
    assert binding.args["alias"] == smoke.SERVICE_HOST


def test_the_service_allows_the_name_the_probe_reaches_it_by():
    probe = smoke.probe(dag.container().from_("example:1"), "node:22", timeout=60, nonce="n")
    service_ctr = next(obj for obj in reachable(probe) if any(f.name == "asService" for f in selections(obj)))
    env = {f.args["name"]: f.args["value"] for f in selections(service_ctr) if f.name == "withEnvVariable"}
    assert env["ALLOWED_HOSTS"] == smoke.SERVICE_HOST


def test_nginx_serves_the_probe_by_that_name_and_refuses_it_otherwise(site):
    """The probe's GET / carries Host: helios:3000; nginx answers it only when the name is allowed."""
    host = f"{smoke.SERVICE_HOST}:3000"
    assert site(ALLOWED_HOSTS=smoke.SERVICE_HOST).get("/", host=host).status == 200
    assert site().get("/", host=host).status == 403


def test_the_diagnostic_boot_runs_init_as_pid_1_and_keeps_the_output():
    boot = smoke.diagnostic_boot(dag.container().from_("example:1"), timeout=5, nonce="n")
    exec_field = selections(boot)[-1]
    assert exec_field.args["args"][:3] == ["/init", "sh", "-c"]
    assert exec_field.args["noInit"] is True and str(exec_field.args["expect"]).endswith("ANY")


@pytest.mark.asyncio
async def test_smoke_refuses_a_non_positive_timeout():
    from dagger.mod._exceptions import FunctionError

    with pytest.raises(FunctionError, match="timeout must be positive") as caught:
        await Helios(source=dag.directory()).smoke("rhel", timeout=0)
    assert caught.value.__cause__ is None, "a user error is reported without a chained traceback"


@pytest.mark.asyncio
async def test_a_failed_check_names_the_probe_and_shows_the_tail_of_the_containers_log(
    make_tree, monkeypatch
):
    from pipeline.errors import HeliosError
    from pipeline.plan import Planner
    from pipeline.tree import LocalTree
    from tests.helpers import engine_error

    plan = Planner(LocalTree(make_tree())).plan("base", "linux/amd64")
    log = [f"log line {n}" for n in range(smoke.LOG_TAIL_LINES + 5)]

    async def stdout(self):
        command = selections(self)[-1].args["args"]
        if command[0] != "/init":  # the probe, from outside: it fails as the engine reports it
            raise engine_error(
                "process did not complete successfully: exit code: 1", path=["withExec", "stdout"],
                extensions={"_type": "EXEC_ERROR", "cmd": command, "exitCode": 1, "stdout": "",
                            "stderr": "smoke: GET / failed\n"},
            )  # fmt: skip
        return "\n".join(log[:-1]) + "\n"

    async def stderr(self):
        return log[-1] + "\n"

    monkeypatch.setattr(dagger.Container, "stdout", stdout)
    monkeypatch.setattr(dagger.Container, "stderr", stderr)
    with pytest.raises(HeliosError) as caught:
        await smoke.check(dag.container().from_("example:1"), plan, timeout=5)
    message = caught.value.message
    assert message.startswith("smoke check of base on linux/amd64 failed: smoke: GET / failed\n")
    assert message.splitlines()[2:] == log[-smoke.LOG_TAIL_LINES :]
    assert "as-service --args=/init --no-init" in (caught.value.hint or "")
    assert caught.value.__suppress_context__
