"""The distro catalogue: loading, aliases, extends, and every kind of bad distro.toml."""

from __future__ import annotations

import pytest

from pipeline.catalogue import Catalogue, check_name
from pipeline.errors import HeliosError
from pipeline.tree import LocalTree
from tests.conftest import BASE_DISTRO, CHILD_DISTRO, REPO, write_files

SHIPPED = {"debian", "kali", "ubuntu", "jammy", "rhel", "alma", "alpine"}


def load(path) -> Catalogue:
    return Catalogue(LocalTree(path))


def error_of(make_tree, changes) -> str:
    with pytest.raises(HeliosError) as caught:
        load(make_tree(changes))
    return str(caught.value)


@pytest.mark.real_versions
def test_the_shipped_catalogue_has_every_promised_distro():
    catalogue = load(REPO)
    assert set(catalogue.names()) == SHIPPED
    assert catalogue.get("rocky").name == "rhel"
    assert catalogue.get("alma").lineage == ("alma", "rhel")
    assert catalogue.get("jammy").lineage == ("jammy", "ubuntu", "debian")
    assert catalogue.get("jammy").packages == "ubuntu"
    assert catalogue.get("kali").lineage == ("kali", "debian")
    for name in SHIPPED:
        distro = catalogue.get(name)
        assert distro.description and distro.base and distro.family in ("debian", "rhel", "alpine")


def test_rhel_family_has_webrtc_off_and_the_old_x_server():
    catalogue = load(REPO)
    for name in ("rhel", "alma"):
        assert catalogue.get(name).webrtc is False
        assert catalogue.get(name).xorg_version.startswith("1.20.")
    assert catalogue.get("ubuntu").xorg_version.startswith("21.1.")


def test_child_inherits_settings_but_not_description_or_aliases(make_tree):
    catalogue = load(make_tree())
    child = catalogue.get("child")
    assert child.family == "debian" and child.xorg_version == "1.20.14"
    assert child.base == "debian:12" and child.webrtc is False
    assert child.description == "A child of the fixture distro"
    assert child.aliases == () and child.extends == "base"
    assert catalogue.get("fixture").name == "base"


def test_packages_defaults_to_the_family(make_tree):
    assert load(make_tree()).get("base").packages == "debian"


@pytest.mark.parametrize("name", ["", "../x", "a b", "rhel/9", "/etc", "Rhel", ".hidden"])
def test_names_that_are_not_plain_are_refused(name):
    with pytest.raises(HeliosError, match="not a valid distro name"):
        check_name(name)


def test_unknown_distro_lists_known_ones_and_suggests_the_closest(make_tree):
    with pytest.raises(HeliosError) as caught:
        load(make_tree()).get("chld")
    assert "known distros: base, child" in caught.value.message
    assert "'child'" in (caught.value.hint or "")


def test_missing_config(make_tree):
    assert "distros/child/distro.toml is missing" in error_of(make_tree, {"distros/child/distro.toml": None})


def test_invalid_toml_names_the_file(make_tree):
    message = error_of(make_tree, {"distros/base/distro.toml": "family = \n"})
    assert "distros/base/distro.toml is not valid TOML" in message


def test_unknown_key_is_named_with_a_suggestion(make_tree):
    message = error_of(make_tree, {"distros/base/distro.toml": BASE_DISTRO + 'xorg_verison = "1"\n'})
    assert "distros/base/distro.toml: unknown key 'xorg_verison'" in message
    assert "did you mean 'xorg_version'" in message


def test_missing_key_is_named(make_tree):
    text = BASE_DISTRO.replace('family = "debian"\n', "")
    message = error_of(make_tree, {"distros/base/distro.toml": text})
    assert "distros/base/distro.toml: missing key 'family'" in message


@pytest.mark.parametrize(
    ("line", "key"),
    [("webrtc = \"yes\"", "webrtc"), ("base = 3", "base"), ('aliases = "x"', "aliases"),
     ('family = "arch"', "family"), ('xorg_version = "latest"', "xorg_version"), ('aliases = ["A B"]', "A B")],
)  # fmt: skip
def test_wrong_types_and_values_name_the_key(make_tree, line, key):
    name = line.split(" ")[0]
    text = "\n".join(row for row in BASE_DISTRO.splitlines() if not row.startswith(name)) + f"\n{line}\n"
    message = error_of(make_tree, {"distros/base/distro.toml": text})
    assert "distros/base/distro.toml" in message and key in message


def test_extends_unknown_parent(make_tree):
    text = """description = "x"\nextends = "nope"\n"""
    message = error_of(make_tree, {"distros/child/distro.toml": text})
    assert "extends unknown distro 'nope'" in message


def test_extends_cycle_is_reported_with_its_path(make_tree):
    message = error_of(
        make_tree,
        {"distros/base/distro.toml": BASE_DISTRO + 'extends = "child"\n'},
    )
    assert ("cycle" in message and "child -> base -> child" in message) or "base -> child -> base" in message


def test_alias_clash_is_refused(make_tree):
    message = error_of(
        make_tree, {"distros/child/distro.toml": 'description = "x"\nextends = "base"\naliases = ["base"]\n'}
    )
    assert "alias 'base' of 'child' is also the name of the distro 'base'" in message


def test_folder_with_a_bad_name_is_refused(make_tree):
    message = error_of(make_tree, {"distros/Bad Name/distro.toml": BASE_DISTRO})
    assert "distros/Bad Name/ is not a valid distro folder name" in message


@pytest.mark.parametrize("name", sorted(Catalogue(LocalTree(REPO)).distros))
def test_every_shipped_base_image_is_pinned(name: str) -> None:
    """A tag that moves (`latest`, or none) would build another base each week."""
    base = Catalogue(LocalTree(REPO)).get(name).base
    repository, _, digest = base.partition("@")
    tag = repository.rsplit("/", 1)[-1].partition(":")[2]
    assert digest or (tag and tag != "latest"), (
        f"{name}'s base {base!r} is not pinned to a fixed tag or digest"
    )


# --- a user's distros over ours: the message names the user's file, the one that changed ---------


def user_catalogue(make_tree, tmp_path, files: dict[str, str]) -> Catalogue:
    from pipeline.layers import Layers

    site = write_files(tmp_path / "site", files)
    return Catalogue(Layers(LocalTree(make_tree()), LocalTree(site), user_label=str(site)))


def user_error(make_tree, tmp_path, files: dict[str, str]) -> HeliosError:
    with pytest.raises(HeliosError) as caught:
        user_catalogue(make_tree, tmp_path, files)
    return caught.value


def test_an_alias_clash_with_our_distro_names_the_users_file(make_tree, tmp_path):
    mine = f"{tmp_path}/site/distros/mine/distro.toml"
    error = user_error(
        make_tree, tmp_path, {"distros/mine/distro.toml": CHILD_DISTRO + 'aliases = ["fixture"]\n'}
    )
    assert error.message.startswith(f"{mine}: alias 'fixture' is named by both 'base' and 'mine'")
    assert "(base: distros/base/distro.toml)" in error.message


def test_a_user_distro_named_as_our_alias_names_the_users_file(make_tree, tmp_path):
    folder = f"{tmp_path}/site/distros/fixture/distro.toml"
    error = user_error(
        make_tree, tmp_path, {"distros/fixture/distro.toml": BASE_DISTRO.replace("fixture", "f2")}
    )
    assert error.message.startswith(
        f"{folder}: alias 'fixture' of 'base' is also the name of the distro 'fixture'"
    )


def test_a_key_missing_from_the_users_parent_names_the_users_file_and_the_child(make_tree, tmp_path):
    from pipeline.layers import Layers

    repo = make_tree({"distros/aaa/distro.toml": 'description = "first in order"\nextends = "base"\n'})
    site = write_files(tmp_path / "site", {"distros/base/distro.toml": 'description = "mine"\n'})
    with pytest.raises(HeliosError) as caught:
        Catalogue(Layers(LocalTree(repo), LocalTree(site), user_label=str(site)))
    assert (
        caught.value.message
        == f"{site}/distros/base/distro.toml: missing key 'base' (for aaa, which extends it)"
    )


def test_a_misspelt_parent_never_suggests_the_distro_itself(make_tree):
    message = error_of(make_tree, {"distros/child/distro.toml": 'description = "x"\nextends = "chil"\n'})
    assert "extends unknown distro 'chil'" in message
    assert "did you mean 'child'" not in message


@pytest.mark.parametrize("text", ["red \x1b[31malert", "two\nlines", "tab\there", "line\u2028separator"])
def test_a_description_must_be_one_printable_line(make_tree, text):
    escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)  # TOML's escapes
    config = BASE_DISTRO.replace('"A fixture distro"', f'"{escaped}"')
    message = error_of(make_tree, {"distros/base/distro.toml": config})
    assert "key 'description' holds control characters or line breaks" in message


def test_the_package_list_must_belong_to_the_family(make_tree, tmp_path):
    mine = f"{tmp_path}/site/distros/child/distro.toml"
    error = user_error(
        make_tree, tmp_path, {"distros/child/distro.toml": CHILD_DISTRO + 'packages = "rhel"\n'}
    )
    assert error.message.startswith(f"{mine}: packages = 'rhel' is not a list of the 'debian' family")
    assert error.hint == "set `packages` in this file to one of: debian, ubuntu"
    ubuntu = user_catalogue(
        make_tree, tmp_path, {"distros/child/distro.toml": CHILD_DISTRO + 'packages = "ubuntu"\n'}
    )
    assert ubuntu.get("child").packages == "ubuntu"
