"""The smoke check: boot an image as a Dagger service and probe its web endpoint on port 3000.

s6-overlay must be PID 1, so the service runs ``/init`` with ``no_init`` (no init of Dagger's own).
A probe container bound to the service polls ``/healthz`` until it reports "ready", then fetches
``/``. When the check fails, a diagnostic boot of the same image, probed from inside, captures the
container's own log so the caller can show its tail.
"""

from __future__ import annotations

import shlex
import uuid

import dagger
from dagger import dag

from pipeline.errors import HeliosError
from pipeline.imageconfig import ENTRYPOINT, HTTP_PORT
from pipeline.plan import Plan

SERVICE_HOST = "helios"
LOG_TAIL_LINES = 40
DEFAULT_TIMEOUT = 180
"""Seconds the desktop may take to report ready (smoke's --timeout; the rehearsal uses it too)."""


HOLD_SECONDS = 12
"""How long /healthz must stay "ready" before the desktop counts as up: past two health intervals
(5 s each), so a session that dies a few seconds after each start is seen dying (docs/runtime.md)."""


def probe_script(url: str, timeout: int, hold: int = HOLD_SECONDS) -> str:
    """A POSIX sh script: ``url``healthz says ready and stays so for ``hold`` s, then ``url`` serves HTML."""
    health, page = shlex.quote(f"{url}healthz"), shlex.quote(url)
    return f"""
deadline=$(( $(date +%s) + {timeout} ))
held_since=
while :; do
  now=$(date +%s)
  if [ "$(curl -fsS --max-time 5 {health} 2>/dev/null)" = ready ]; then
    held_since=${{held_since:-$now}}
    [ $(( now - held_since )) -ge {hold} ] && break
  else
    held_since=
  fi
  if [ "$now" -ge "$deadline" ]; then
    echo "smoke: {health} did not stay ready for {hold}s within {timeout}s (last status:" \\
      "$(curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 {health}))" >&2
    exit 1
  fi
  sleep 2
done
echo "smoke: {health} reports ready, and stayed so for {hold}s"
body=$(curl -fsS --max-time 10 {page}) || {{ echo "smoke: GET {page} failed" >&2; exit 1; }}
case "$body" in
  *"<html"*|*"<HTML"*|*"<!DOCTYPE"*|*"<!doctype"*) echo "smoke: GET {page} serves the web client" ;;
  *) echo "smoke: GET {page} did not return an HTML page" >&2; exit 1 ;;
esac
"""


def service(image: dagger.Container) -> dagger.Service:
    """The image running as it would under `docker run`: s6's /init as PID 1.

    The probe reaches it by the binding's name, which nginx refuses as an unknown host (DNS
    rebinding), as an operator's own name would be: so the service allows it, as an operator does.
    """
    allowed = image.with_env_variable("ALLOWED_HOSTS", SERVICE_HOST)
    return allowed.as_service(args=list(ENTRYPOINT), no_init=True)


def probe(image: dagger.Container, probe_image: str, *, timeout: int, nonce: str) -> dagger.Container:
    """A container that checks the running image from outside; ``nonce`` makes every run really run."""
    url = f"http://{SERVICE_HOST}:{HTTP_PORT}/"
    return (
        dag.container()
        .from_(probe_image)
        .with_service_binding(SERVICE_HOST, service(image))
        .with_env_variable("HELIOS_SMOKE_RUN", nonce)
        .with_exec(["sh", "-c", probe_script(url, timeout)])
    )


def diagnostic_boot(image: dagger.Container, *, timeout: int, nonce: str) -> dagger.Container:
    """Boot the image with s6 as PID 1 and the probe as its command; its output is the container log."""
    url = f"http://127.0.0.1:{HTTP_PORT}/"
    script = probe_script(url, timeout)
    return image.with_env_variable("HELIOS_SMOKE_RUN", nonce).with_exec(
        [*ENTRYPOINT, "sh", "-c", script], no_init=True, expect=dagger.ReturnType.ANY
    )


def check_timeout(timeout: int) -> None:
    """Refuse a ``--timeout`` the probe could never meet."""
    if timeout <= 0:
        raise HeliosError(f"timeout must be positive, not {timeout}", hint="pass --timeout=180")


async def check(image: dagger.Container, plan: Plan, *, timeout: int) -> str:
    """Boot ``image`` and probe it; on failure, a HeliosError with the probe's words and the log's tail."""
    check_timeout(timeout)
    nonce = uuid.uuid4().hex
    try:
        return await probe(image, plan.web_image, timeout=timeout, nonce=nonce).stdout()
    except dagger.ExecError as error:
        boot = diagnostic_boot(image, timeout=timeout, nonce=nonce)
        log = (await boot.stdout()) + (await boot.stderr())
        tail = "\n".join(log.splitlines()[-LOG_TAIL_LINES:])
        raise HeliosError(
            f"smoke check of {plan.distro.name} on {plan.platform} failed: {error.stderr.strip()}\n"
            f"last lines of the container log:\n{tail}",
            hint="try it: dagger call build --distro=... "
            "as-service --args=/init --no-init up --ports=3000:3000",
        ) from None
