"""The cache benchmark reads which hook execs an engine ran from the engine's own log lines
(tests/benchmarks/engine_cache.py): every form the engine logs an exec's arguments in."""

from __future__ import annotations

from tests.benchmarks.engine_cache import engine_reruns


def started(args: str) -> str:
    """One engine log line for an exec it started, its arguments quoted as the engine logs them."""
    return f'time="2026-01-01T00:00:00Z" level=info msg="starting container" args="[{args}]" client_hostname=vm\n'


def done(args: str) -> str:
    return f'time="2026-01-01T00:00:01Z" level=info msg="container done" args="[{args}]" error="<nil>"\n'


# Steps 9 and 10 run settled: a shell script, its $0, then the hook (pipeline/settle.py).
SETTLED = (
    r"/.init sh -c mark=/dev/shm/helios-settle.$$\n: >\"$mark\" || exit 1\nsleep 1\n\"$@\""
    r"\nfind / -xdev -newer \"$mark\" -exec touch -h -d @1767225600 {} +\nexit \"$status\"\n"
    " helios-settle /helios/hooks/10-system.sh"
)


def test_a_hook_run_directly_is_read() -> None:
    assert engine_reruns(started("/.init /helios/hooks/07-kclient.sh")) == ["step 7"]


def test_a_hook_run_behind_the_settle_script_is_read() -> None:
    assert engine_reruns(started(SETTLED)) == ["step 10"]


def test_drop_ins_are_their_own_execs_and_the_steps_come_in_order() -> None:
    log = started("/.init /helios/hooks/09-system.d-50-kasmvnc-libraries.sh") + started(SETTLED)
    log += started("/.init /helios/hooks/02-kasm.sh")
    assert engine_reruns(log) == ["step 2", "step 9 system.d-50-kasmvnc-libraries.sh", "step 10"]


def test_only_execs_the_engine_started_count() -> None:
    """Finished execs, the pipeline's own execs and other messages naming a hook are not re-runs."""
    log = done("/.init /helios/hooks/07-kclient.sh") + started("update-ca-certificates")
    log += 'level=debug msg="mounting /helios/hooks/05-xorg.sh"\n'
    assert engine_reruns(log) == []
