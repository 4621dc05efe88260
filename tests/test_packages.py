"""The unified package list: shape rules, deterministic output, clear errors, the shipped file."""

from __future__ import annotations

import random
import re
import tomllib
from pathlib import Path

import pytest

from pipeline.errors import HeliosError
from pipeline.packages import PACKAGES_FILE, package_list, parse

REPO = Path(__file__).resolve().parent.parent
SHIPPED = (REPO / PACKAGES_FILE).read_text()

SMALL = """
lists = ["debian", "rhel"]

[base]
curl = "curl"
shadow = { debian = "passwd", rhel = "shadow-utils" }

[desktop]
thunar = { debian = "thunar", rhel = "Thunar" }
fonts = { debian = "xfonts-base", rhel = ["xorg-x11-fonts-misc", "dejavu-sans-fonts"] }
banner = { debian = "fastfetch", rhel = false }
again = { debian = "curl", rhel = "curl" }
"""


def test_names_per_list_sorted_and_deduplicated() -> None:
    assert package_list(SMALL, "debian", source="p.toml") == [
        "curl",
        "fastfetch",
        "passwd",
        "thunar",
        "xfonts-base",
    ]
    assert package_list(SMALL, "rhel", source="p.toml") == [
        "Thunar",
        "curl",
        "dejavu-sans-fonts",
        "shadow-utils",
        "xorg-x11-fonts-misc",
    ]


def test_the_packages_list_a_step_gets_is_one_name_a_line(make_tree) -> None:
    from pipeline.plan import Planner
    from pipeline.stepmounts import package_listing
    from pipeline.tree import LocalTree

    plan = Planner(LocalTree(make_tree({"common/packages.toml": SMALL}))).plan("base", "linux/amd64")
    text = package_listing(plan)  # the fixture distro is of the debian family
    assert text.endswith("\n")
    assert text.splitlines() == package_list(SMALL, "debian", source="p.toml")


def _shuffled(text: str, seed: int) -> str:
    """The same package file with its groups and entries in another order."""
    data = tomllib.loads(text)
    rng = random.Random(seed)
    lines = [f"lists = {data.pop('lists')!r}".replace("'", '"')]
    groups = list(data.items())
    rng.shuffle(groups)
    for group, entries in groups:
        lines.append(f"[{group}]")
        items = list(entries.items())
        rng.shuffle(items)
        for key, value in items:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: object) -> str:
    if value is False:
        return "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"


@pytest.mark.parametrize("list_name", ["debian", "ubuntu", "rhel", "alpine"])
def test_output_does_not_depend_on_entry_order(list_name: str) -> None:
    expected = package_list(SHIPPED, list_name)
    assert package_list(SHIPPED, list_name) == expected  # same input, same output
    for seed in range(5):
        shuffled = _shuffled(SHIPPED, seed)
        assert shuffled != SHIPPED
        assert package_list(shuffled, list_name) == expected


def test_shipped_file_loads_for_every_list() -> None:
    from pipeline.families import PACKAGE_LISTS

    packages = parse(SHIPPED, source=PACKAGES_FILE)
    assert set(packages.lists) == set(PACKAGE_LISTS)
    for list_name in PACKAGE_LISTS:
        names = packages.package_list(list_name)
        assert names == sorted(set(names))
        assert len(names) > 50, f"{list_name}: suspiciously short list"


def test_shipped_file_names_or_skips_every_list_in_every_entry() -> None:
    data = tomllib.loads(SHIPPED)
    lists = data.pop("lists")
    for group, entries in data.items():
        for package, value in entries.items():
            if isinstance(value, dict):
                assert set(value) == set(lists), f"[{group}] {package}"


@pytest.mark.parametrize(
    ("list_name", "needed"),
    [
        ("debian", {"nginx", "pulseaudio", "xauth", "perl", "libswitch-perl", "dbus-x11"}),
        ("ubuntu", {"nginx", "pulseaudio", "xauth", "perl", "libswitch-perl", "dbus-x11"}),
        ("rhel", {"nginx", "pulseaudio", "xorg-x11-xauth", "perl", "perl-Switch", "dbus-x11"}),
        ("alpine", {"nginx", "pulseaudio", "xauth", "perl", "perl-switch", "bash", "shadow"}),
    ],
)
def test_shipped_file_has_what_the_runtime_needs(list_name: str, needed: set[str]) -> None:
    assert needed <= set(package_list(SHIPPED, list_name))


def test_ubuntu_list_avoids_names_renamed_between_jammy_and_noble() -> None:
    # One ubuntu list serves 22.04 and 24.04: a *t64 library name exists only in 24.04.
    assert not [n for n in package_list(SHIPPED, "ubuntu") if n.endswith("t64")]


def test_build_tools_are_not_runtime_packages() -> None:
    for list_name in ("debian", "ubuntu", "rhel", "alpine"):
        names = set(package_list(SHIPPED, list_name))
        assert not names & {"gcc", "g++", "gcc-c++", "make", "cmake", "npm"}


# The package that brings each tool step 10 (common/build/system.sh) checks for with require_tools;
# sha256sum is part of every base image (coreutils, coreutils-single, busybox).
STEP10_TOOL_PACKAGES = {
    "git": "git", "sassc": "sassc", "unzip": "unzip", "fc-cache": "fontconfig", "python3": "python3",
}  # fmt: skip


def test_step_10_finds_its_tools_in_every_list() -> None:
    """Step 10 runs in the system stage right after step 9: only the package list provides tools."""
    text = (REPO / "common" / "build" / "system.sh").read_text()
    required = set(re.search(r"^\s*require_tools (.+)$", text, re.MULTILINE).group(1).split())
    assert required - {"sha256sum"} == set(STEP10_TOOL_PACKAGES), "update STEP10_TOOL_PACKAGES"
    data = tomllib.loads(SHIPPED)
    data.pop("lists")
    entries = {name: value for group in data.values() for name, value in group.items()}
    for list_name in ("debian", "ubuntu", "rhel", "alpine"):
        names = set(package_list(SHIPPED, list_name))
        for tool, package in STEP10_TOOL_PACKAGES.items():
            value = entries.get(package)
            expected = value.get(list_name) if isinstance(value, dict) else value
            assert expected and set([expected] if isinstance(expected, str) else expected) <= names, (
                f"{list_name}: step 10 needs {tool} (package {package})"
            )


def test_node_comes_from_the_package_list_only_on_alpine() -> None:
    # glibc images run the pinned Node.js that step 8 copies to /opt/helios/node; Alpine (musl)
    # links that path to its own nodejs package, which the image must therefore install.
    assert "nodejs" in package_list(SHIPPED, "alpine")
    for list_name in ("debian", "ubuntu", "rhel"):
        assert "nodejs" not in package_list(SHIPPED, list_name)


def _error(text: str, list_name: str = "debian") -> HeliosError:
    with pytest.raises(HeliosError) as caught:
        package_list(text, list_name, source="custom/packages.toml")
    return caught.value


def test_invalid_toml_names_the_file() -> None:
    err = _error('lists = ["debian"]\n[base\ncurl = "curl"\n')
    assert "custom/packages.toml" in err.message
    assert "invalid TOML" in err.message
    assert err.hint


def test_unknown_list_name_names_the_file_and_the_lists() -> None:
    err = _error(SMALL, "fedora")
    assert "custom/packages.toml" in err.message
    assert "'fedora'" in err.message
    assert err.hint is not None and "debian, rhel" in err.hint


def test_entry_that_forgets_a_list_names_group_and_package() -> None:
    err = _error('lists = ["debian", "rhel"]\n[desktop]\nthunar = { debian = "thunar" }\n')
    assert "custom/packages.toml" in err.message
    assert "[desktop] thunar" in err.message
    assert "'rhel'" in err.message
    assert err.hint is not None and "false" in err.hint


def test_entry_with_a_misspelt_list_is_rejected() -> None:
    err = _error('lists = ["debian"]\n[base]\ncurl = { debain = "curl", debian = "curl" }\n')
    assert "[base] curl" in err.message
    assert "'debain'" in err.message


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("curl = 3", "must be a name or a table, not a number"),
        ("curl = true", "must be a name or a table, not true"),
        ("curl = { debian = true }", "[base] curl.debian: must be a name"),
        ("curl = { debian = [] }", "[base] curl.debian: must be a name"),
        ("curl = { debian = [1] }", "[base] curl.debian: must be a name"),
        ('curl = { debian = "curl 8.0" }', "'curl 8.0' is not a package name"),
        ('curl = "https://example.org/x.rpm"', "is not a package name"),
    ],
)
def test_wrong_types_name_the_entry(entry: str, fragment: str) -> None:
    err = _error(f'lists = ["debian"]\n[base]\n{entry}\n')
    assert "custom/packages.toml" in err.message
    assert fragment in err.message
    assert err.hint


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[base]\ncurl = "curl"\n', "missing the `lists` key"),
        ('lists = "debian"\n', "`lists` must be a non-empty array"),
        ("lists = []\n", "`lists` must be a non-empty array"),
        ('lists = ["debian", "debian"]\n', "names a list twice"),
        ('lists = ["debian"]\ncurl = "curl"\n', "top-level key 'curl' must be a group table"),
    ],
)
def test_bad_file_shape_is_explained(text: str, fragment: str) -> None:
    err = _error(text)
    assert "custom/packages.toml" in err.message
    assert fragment in err.message
    assert err.hint
