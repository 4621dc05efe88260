"""Explaining a failed hook: step number and name, hook path, exit code and the last lines of output."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.plan import Plan

TAIL_LINES = 25


def describe_failure(plan: Plan, command: Sequence[str], exit_code: int, stdout: str, stderr: str) -> str:
    """A report of a failed exec, naming the hook step when the command was one."""
    found = plan.find_run(command[0]) if command else None
    if found is None:
        head = f"{' '.join(command) or 'a command'} failed with exit code {exit_code}"
    else:
        planned, run = found
        step = planned.step
        head = (
            f"step {step.number} ({step.stage} · {step.label}) failed: {run.script} "
            f"exited with code {exit_code} while building {plan.distro.name} for {plan.platform}"
        )
    output = "\n".join(part for part in (stdout.rstrip(), stderr.rstrip()) if part)
    tail = output.splitlines()[-TAIL_LINES:]
    if not tail:
        return head
    return head + f"\nlast {len(tail)} lines of output:\n" + "\n".join(f"  | {line}" for line in tail)
