"""Plain-text views of the catalogue and of a plan, shared by the CLI and the Dagger module."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pipeline.catalogue import Catalogue
from pipeline.errors import printable
from pipeline.layout import COMMON_BUILD, COMMON_ROOT, HOOK_LIBRARY, LIBRARY_PARTS, distro_build, distro_root
from pipeline.mirror import Mirror, State
from pipeline.order import BUILD_ORDER, Action, Scope
from pipeline.plan import Plan
from pipeline.spelling import ROWS, Front, Spelled

DIGEST_WIDTH = 12


def _table(rows: list[list[str]]) -> str:
    """Aligned columns; a cell's control characters (a user's path, say) are shown escaped."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def distros_table(catalogue: Catalogue) -> str:
    """One line per distro: name, family, base image, aliases and description."""
    rows = [["DISTRO", "FAMILY", "BASE", "ALIASES", "DESCRIPTION"]]
    for name in catalogue.names():
        distro = catalogue.distros[name]
        aliases = ", ".join(distro.aliases) or "-"
        rows.append([name, distro.family, distro.base, aliases, distro.description])
    return _table(rows)


def plan_table(plan: Plan, *, digests: bool = False) -> str:
    """The numbered steps of ``plan``: stage, what runs, where it comes from, optionally digests.

    A hook's drop-in scripts (``<hook>.d/*.sh``) follow it on rows of their own, numbered "9.1"...
    """
    header = ["#", "STAGE", "FROM", "RUNS"] + (["DIGEST"] if digests else [])
    rows = [header]

    def add(number: str, stage: str, origin: str, runs: str, digest: str) -> None:
        rows.append([number, stage, origin, runs] + ([digest[:DIGEST_WIDTH]] if digests else []))

    for planned in plan.steps:
        step = planned.step
        number, stage, digest = str(step.number), step.stage.value, planned.digest
        if step.action is Action.JOIN:
            add(number, stage, "-", f"packaged rootfs (8) + s6-overlay {plan.s6_overlay.get('version', '?')} "
                "-> base (10)", digest)  # fmt: skip
        elif step.action is Action.OVERLAY:
            overlays = planned.overlays or ()
            origins = "+".join(sorted({ref.layer for ref in overlays})) or "-"
            add(number, stage, origins, " + ".join(f"{ref}/" for ref in overlays) or "(no overlay)", digest)
        else:
            hook, *drop_ins = planned.runs
            extras = [ref.name for ref in hook.files if not _is_library(ref.path)]
            add(number, stage, hook.script.layer,
                f"{hook.script}" + (f"  [+ {', '.join(extras)}]" if extras else ""), digest)  # fmt: skip
            for index, run in enumerate(drop_ins, start=1):
                add(f"{number}.{index}", stage, run.script.layer, str(run.script), digest)
    title = f"{plan.distro.name} ({plan.distro.description}) on {plan.platform}, base {plan.base}" + (
        f", extends {plan.distro.extends}" if plan.distro.extends else ""
    )
    library = next((f for p in plan.steps for r in p.runs for f in r.files if f.path == HOOK_LIBRARY), None)
    if library is not None:
        title += f"; every script gets {library} as /helios/hooks/lib.sh, with the parts its step uses"
    return printable(title) + "\n" + _table(rows)


def _is_library(path: str) -> bool:
    return path == HOOK_LIBRARY or path.startswith(f"{LIBRARY_PARTS}/")


def _markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows[1:]])


def order_markdown() -> str:
    """The build order as the Markdown table README.md carries (a test keeps them equal)."""
    rows = [["#", "stage", "runs", "what"]]
    for step in BUILD_ORDER:
        if step.action is Action.JOIN:
            runs = "packaged rootfs (8) + s6-overlay → fresh base (10)"
        elif step.action is Action.OVERLAY:
            runs = f"`{COMMON_ROOT}/`" if step.scope is Scope.COMMON else f"`{distro_root('<d>')}/`"
        else:
            folder = COMMON_BUILD if step.scope is Scope.COMMON else distro_build("<d>")
            runs = f"`{folder}/{step.name}`"
        rows.append([str(step.number), step.stage.value, runs, step.summary])
    return _markdown(rows)


def distros_markdown(catalogue: Catalogue) -> str:
    """The distro catalogue as the Markdown table README.md carries."""
    rows = [["distro", "description", "base image", "family", "X server", "WebRTC", "extends", "aliases"]]
    for name in catalogue.names():
        d = catalogue.distros[name]
        rows.append(
            [f"`{name}`", d.description, f"`{d.base}`", d.family, d.xorg_version,
             "yes" if d.webrtc else "no", d.extends or "", ", ".join(d.aliases)]
        )  # fmt: skip
    return _markdown(rows)


def images_table(plans: Iterable[Plan], tools: Mapping[str, str]) -> str:
    """Every image the plans pull (and the publishing ``tools``), once each, with what pulls it.

    A registry mirror of an air-gapped site must hold each of them: digest-pinned ones as copies of
    the very same manifest (``skopeo copy --all`` keeps it).
    """
    used: dict[str, list[str]] = {}
    chosen = list(plans)
    for plan in chosen:
        used.setdefault(plan.base, []).append(f"base of {plan.distro.name} ({plan.platform})")
    for plan in chosen:
        used.setdefault(plan.web_image, []).append(
            "the web stage (step 1), s6-overlay's unpacking, smoke's probe"
        )
    for name, image in tools.items():
        used.setdefault(image, []).append(f"publish: {name}")
    rows = [["IMAGE", "PULLED FOR"]]
    rows += [[image, "; ".join(dict.fromkeys(uses))] for image, uses in used.items()]
    return _table(rows)


def inputs_table(plan: Plan, mirror: Mirror) -> str:
    """Per step, the pinned inputs it consumes and what the step will find of each in ``mirror``.

    An entry is shown sound only once it has been verified against its pin; a corrupt one says
    what is wrong with it.
    """
    rows = [["#", "INPUT", "PIN", "MIRROR PATH", "IN MIRROR"]]
    states: dict[str, State] = {}
    for planned in plan.steps:
        for item in planned.inputs:
            state, why = mirror.state(item)
            states[item.path] = state
            shown = state.value if state in (State.SOUND, State.MISSING) else f"{state.value}: {why}"
            rows.append([str(planned.step.number), item.name, item.pin_label, item.path, shown])
    counts = ", ".join(f"{sum(1 for s in states.values() if s is state)} {state.value}" for state in State)
    return f"inputs from {mirror.location}: {len(states)} pinned, {counts}\n" + _table(rows)


def spelling_markdown(front: Front) -> str:
    """The table README shows for ``front``: its spelling of each thing, then the other front end's."""
    other = Front.CLI if front is Front.MODULE else Front.MODULE

    def cell(spelled: Spelled) -> str:
        code = ", ".join(f"`{part}`" for part in spelled.text.split(", ") if part)
        if not code:
            return spelled.note
        return f"{code} ({spelled.note})" if spelled.note else code

    rows = [["to set", f"`{front.value}`", f"`{other.value}`"]]
    rows += [[row.what, cell(row.spelled(front)), cell(row.spelled(other))] for row in ROWS]
    return _markdown(rows)
