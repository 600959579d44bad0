"""Safe extraction: hostile tar members and zip bombs are refused before anything is written."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from maskaway_cli.assets.archives import MARKER, ArchiveLimits, extract, is_extracted
from maskaway_cli.errors import ArchiveError


def make_tar(path, members, mode="w:gz"):
    """members: (TarInfo kwargs, data or None)."""
    with tarfile.open(path, mode) as tar:
        for fields, data in members:
            fields = dict(fields)
            info = tarfile.TarInfo(fields.pop("name"))
            for k, v in fields.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


GOOD = ({"name": "faces/a.txt"}, b"hello")


@pytest.mark.parametrize(
    "member, reason",
    [
        ({"name": "../evil"}, "'..'"),
        ({"name": "/tmp/evil-abs"}, "absolute"),
        ({"name": "faces/link", "type": tarfile.SYMTYPE, "linkname": "../../outside"}, "symlink"),
        ({"name": "faces/abslink", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "symlink"),
        ({"name": "faces/hard", "type": tarfile.LNKTYPE, "linkname": "../outside"}, "hardlink"),
        ({"name": "dev", "type": tarfile.CHRTYPE}, "device"),
        ({"name": "pipe", "type": tarfile.FIFOTYPE}, "FIFO"),
    ],
)
def test_hostile_tar_members_are_refused_and_nothing_is_written(tmp_path, member, reason):
    src = tmp_path / "src"
    src.mkdir()
    data = None if "type" in member else b"evil"
    archive = make_tar(src / "a.tgz", [GOOD, (dict(member), data)])
    target = tmp_path / "out" / "target"
    with pytest.raises(ArchiveError, match=reason):
        extract(archive, target, kind="tar.gz")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    # No evil file, nothing outside, no temp folder (only the empty parent of the target may exist).
    assert {p.name for p in tmp_path.iterdir()} <= {"src", "out"}
    assert sorted(p.name for p in (tmp_path / "src").iterdir()) == ["a.tgz"]


def test_symlink_inside_the_target_is_allowed(tmp_path):
    archive = make_tar(tmp_path / "a.tar", [GOOD, ({"name": "faces/alias", "type": tarfile.SYMTYPE, "linkname": "a.txt"}, None)], mode="w")
    out = extract(archive, tmp_path / "t", kind="tar")
    assert (out / "faces" / "alias").read_bytes() == b"hello"


@pytest.mark.parametrize("kind, mode", [("tar.gz", "w:gz"), ("tar.bz2", "w:bz2"), ("tar.xz", "w:xz")])
def test_good_tar_is_extracted_with_a_marker(tmp_path, kind, mode):
    archive = make_tar(tmp_path / "a", [GOOD], mode=mode)
    out = extract(archive, tmp_path / "t", kind=kind)
    assert (out / "faces" / "a.txt").read_bytes() == b"hello"
    assert is_extracted(out) and (out / MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "t"]


def test_half_done_extraction_is_redone(tmp_path):
    archive = make_tar(tmp_path / "a.tgz", [GOOD])
    target = tmp_path / "t"
    (target / "faces").mkdir(parents=True)
    (target / "faces" / "stale.txt").write_text("from an interrupted run")
    assert not is_extracted(target)
    extract(archive, target, kind="tar.gz")
    assert sorted(p.name for p in (target / "faces").iterdir()) == ["a.txt"]


def test_zip_bomb_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("zeros.bin", bytes(30 << 20))  # 30 MB of zeros → ~30 KB
    with pytest.raises(ArchiveError, match="compression ratio"):
        extract(archive, tmp_path / "t", kind="zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.zip"]


def test_total_size_and_member_count_limits(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(5):
            zf.writestr(f"f{i}.txt", b"x" * 1000)
    with pytest.raises(ArchiveError, match="more than 3 members"):
        extract(archive, tmp_path / "t", kind="zip", limits=ArchiveLimits(max_members=3))
    with pytest.raises(ArchiveError, match="more than 2500 bytes"):
        extract(archive, tmp_path / "t", kind="zip", limits=ArchiveLimits(max_total_bytes=2500))
    assert not (tmp_path / "t").exists()


def test_zip_with_traversal_is_refused(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", b"fine")
        zf.writestr("../evil.txt", b"evil")
    with pytest.raises(ArchiveError, match="'..'"):
        extract(archive, tmp_path / "t", kind="zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_good_zip_and_corrupt_zip(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("img/1.jpg", b"jpeg")
    out = extract(archive, tmp_path / "t", kind="zip")
    assert (out / "img" / "1.jpg").read_bytes() == b"jpeg" and is_extracted(out)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ArchiveError, match="corrupt"):
        extract(broken, tmp_path / "t2", kind="zip")
    assert not (tmp_path / "t2").exists()


def test_zip_symlink_member_is_refused(tmp_path):
    import stat

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../../etc/passwd")
    with pytest.raises(ArchiveError, match="link or special file"):
        extract(archive, tmp_path / "t", kind="zip")
    assert not (tmp_path / "t").exists()
