"""On a real engine, a --hooks directory with a link out of the tree is refused before planning.

Offline, tests/test_hookcheck.py stands in for the engine's export; this checks that the engine's
export really keeps links as links, so that the check sees them.
"""

from __future__ import annotations

import dagger
import pytest
from dagger import dag
from dagger.mod._exceptions import FunctionError

from pipeline.main import Helios
from tests.engine.conftest import FIXTURE

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPO = FIXTURE.parents[2]


def helios(hooks: dagger.Directory) -> Helios:
    return Helios(source=dag.host().directory(str(REPO), include=["common/**", "distros/**"]), hooks=hooks)


def site_hooks():
    return dag.directory().with_new_file("common/build/turbo.sh", "#!/bin/sh\necho site\n", permissions=0o755)


async def test_a_link_out_of_the_hooks_tree_is_refused(engine):
    hooks = site_hooks().with_symlink("/etc/passwd", "common/build/system.sh")
    with pytest.raises(FunctionError, match=r"common/build/system\.sh is a symlink to '/etc/passwd'"):
        await helios(hooks).distros()


async def test_a_link_inside_the_hooks_tree_is_accepted(engine):
    hooks = site_hooks().with_symlink("turbo.sh", "common/build/kasm.sh")
    assert "debian" in await helios(hooks).distros()
