"""Explaining a failed build: a hook's step, path, exit code and last lines of output, or an engine error."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.errors import BuildError
from pipeline.plan import Plan

TAIL_LINES = 25


def describe_failure(plan: Plan, command: Sequence[str], exit_code: int, stdout: str, stderr: str) -> str:
    """A report of a failed exec, naming the hook step when the command ran one (maybe settled)."""
    found = next((hit for arg in command if (hit := plan.find_run(arg)) is not None), None)
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


ENGINE_HINT = "the engine's log above shows the failing call; fix the registry or network problem it names"


def one_line(message: str) -> str:
    """The first non-empty line of an engine message, so the error stays one line."""
    return next((line.strip() for line in message.splitlines() if line.strip()), "no message")


def engine_failure(plan: Plan, message: str) -> BuildError:
    """An engine error that no hook caused while building ``plan``, e.g. an image that cannot be pulled."""
    where = f"building {plan.distro.name} for {plan.platform} failed in the Dagger engine"
    if plan.base in message:
        hint = (
            f"check that the base image {plan.base} exists for {plan.platform} and the engine can pull it "
            "(it comes from --base or from `base` in the distro's distro.toml)"
        )
    elif plan.web_image in message:
        hint = f"check that the engine can pull {plan.web_image} (the web client's build image)"
    else:
        hint = ENGINE_HINT
    return BuildError(f"{where}: {one_line(message)}", hint=hint)


def engine_error(message: str, *, hint: str = ENGINE_HINT) -> BuildError:
    """An engine error outside any one image's build (a push, the engine's platform, a lost session)."""
    return BuildError(f"the Dagger engine failed: {one_line(message)}", hint=hint)
