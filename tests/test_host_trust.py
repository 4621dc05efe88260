"""The rehearsal delivers the host's extra certificate authorities as a Dagger engine does: into the
exec root's system store for the exec, and out again after it (engine/engineutil/cacerts)."""

from __future__ import annotations

from pathlib import Path

from tests.rehearsal.chroot import DEBIAN_LIKE, HostTrust

PEM = b"-----BEGIN CERTIFICATE-----\nhost\n-----END CERTIFICATE-----\n"


def test_without_update_ca_certificates_the_bundle_is_appended_to_then_restored(tmp_path: Path) -> None:
    root = tmp_path / "root"
    bundle = root / DEBIAN_LIKE[1]
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(b"image's own authorities\n")
    trust = HostTrust(root, [PEM], tmp_path / "log")
    trust.install()
    assert bundle.read_bytes() == b"image's own authorities\n" + PEM
    assert (root / DEBIAN_LIKE[0] / "helios-host-0.crt").read_bytes() == PEM
    trust.uninstall()
    assert bundle.read_bytes() == b"image's own authorities\n"
    assert list((root / DEBIAN_LIKE[0]).iterdir()) == [], "nothing of the host stays in the image"


def test_a_root_without_a_store_gets_one_for_the_exec_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    trust = HostTrust(root, [PEM], tmp_path / "log")
    trust.install()
    assert (root / DEBIAN_LIKE[1]).read_bytes() == PEM
    trust.uninstall()
    assert not (root / DEBIAN_LIKE[1]).exists()


def test_no_extra_authority_touches_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    trust = HostTrust(root, [], tmp_path / "log")
    trust.install()
    trust.uninstall()
    assert list(root.iterdir()) == []
