"""Engine tests: they build real images, so they need a Dagger engine.

Run them with `dagger run pytest -m engine` (the GitHub workflow does). Elsewhere they are
skipped with a reason that says so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dagger
import pytest
import pytest_asyncio

FIXTURE = Path(__file__).with_name("fixture")
SKIP_REASON = "needs a Dagger engine: run `dagger run pytest -m engine` (or set HELIOS_ENGINE_TESTS=1)"


def engine_reachable() -> bool:
    """True under `dagger run` (a session is open) or when explicitly asked for."""
    in_session = bool(os.environ.get("DAGGER_SESSION_PORT") and os.environ.get("DAGGER_SESSION_TOKEN"))
    return in_session or os.environ.get("HELIOS_ENGINE_TESTS") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    engine_dir = Path(__file__).parent
    for item in items:
        if engine_dir in Path(item.path).parents:
            item.add_marker(pytest.mark.engine)
            if not engine_reachable():
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine():
    """One Dagger connection for the whole engine test session."""
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        yield
