"""The runtime image configuration of common/image.toml (environment defaults of the image)."""

from __future__ import annotations

import tomllib

from pipeline.errors import HeliosError
from pipeline.layout import IMAGE_CONFIG
from pipeline.tree import Tree

HTTP_PORT = 3000
ENTRYPOINT = ("/init",)
# The container health check: GET {PREFIX}healthz answers 200 once the whole desktop is up. The
# probe follows HTTP_PORT, PREFIX, HTTPS and HTTP_ADDRESS of the running container. The start
# period matches s6-overlay's boot limit (S6_CMD_WAIT_FOR_SERVICES_MAXTIME in common/image.toml): 5 minutes.
HEALTHCHECK = ("/opt/helios/libexec/check.sh", "healthz")
# Its timing, in seconds (Docker's defaults for the probe time-out and retries are too lax for a
# desktop whose start-up is bounded by s6's 5-minute boot limit).
HEALTH_INTERVAL_S = 30
HEALTH_TIMEOUT_S = 5
HEALTH_START_PERIOD_S = 300
HEALTH_RETRIES = 3


def load_image_env(tree: Tree) -> dict[str, str]:
    """The ``[env]`` table of common/image.toml, in file order; empty when the file is absent."""
    if not tree.is_file(IMAGE_CONFIG):
        return {}
    try:
        data = tomllib.loads(tree.read_bytes(IMAGE_CONFIG).decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise HeliosError(f"{IMAGE_CONFIG} is not valid TOML: {error}", hint="fix the syntax") from error
    unknown = sorted(set(data) - {"env"})
    if unknown:
        raise HeliosError(f"{IMAGE_CONFIG}: unknown table or key {unknown[0]!r}", hint="only [env] is read")
    env = data.get("env", {})
    if not isinstance(env, dict):
        raise HeliosError(f"{IMAGE_CONFIG}: 'env' must be a table", hint="write it as [env]")
    for name, value in env.items():
        if not isinstance(value, str):
            raise HeliosError(
                f"{IMAGE_CONFIG}: env {name!r} must be a string, not {value!r}",
                hint='quote it, e.g. HTTP_PORT = "3000"',
            )
    return dict(env)
