"""Source enumeration and the dataset writer's crash-consistency rules (synthetic, no models)."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile

import pytest

from maskaway_cli.masking.dataset import INFO, MANIFEST, DatasetWriter
from maskaway_cli.errors import DatasetError
from maskaway_cli.data.sources import collect_sources, iter_payloads


def test_folders_are_walked_in_sorted_order_and_archives_expanded(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b" / "c.png").write_bytes(b"y")
    (tmp_path / "notes.txt").write_text("not an image")
    with zipfile.ZipFile(tmp_path / "b" / "pack.zip", "w") as zf:
        zf.writestr("z.jpg", b"zz")
        zf.writestr("readme.md", b"no")
    with tarfile.open(tmp_path / "t.tar.gz", "w:gz") as tf:
        for name in ("q.png", "p.png"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tf.addfile(info, io.BytesIO(b"qq"))
    sources, skipped = collect_sources([tmp_path, tmp_path / "missing.jpg"])
    names = [s.name.removeprefix(tmp_path.as_posix() + "/") for s in sources]
    assert names == ["a.jpg", "t.tar.gz/q.png", "t.tar.gz/p.png", "b/c.png", "b/pack.zip/z.jpg"]
    assert [(s.name.endswith("missing.jpg"), s.reason) for s in skipped] == [(True, "no such file or directory")]
    payloads = dict((s.name.rsplit("/", 1)[-1], p) for s, p in iter_payloads(sources))
    assert payloads["z.jpg"] == b"zz" and payloads["p.png"] == b"qq" and payloads["a.jpg"] == tmp_path / "a.jpg"


def test_a_corrupt_archive_given_explicitly_is_skipped_with_a_reason(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    sources, skipped = collect_sources([bad])
    assert sources == [] and "unreadable archive" in skipped[0].reason


SETTINGS = {"size": 64, "seed": 0}


def _rec(i, source, n=1):
    return {"id": f"{i:06d}", "source": source, "split": "train", "source_samples": n}


def _write(w, i, source, n=1):
    w.write_sample(f"{i:06d}", {k: b"png" for k in ("original", "masked", "binary")})
    return _rec(i, source, n)


def test_resume_drops_a_torn_line_and_a_source_cut_short(tmp_path):
    w = DatasetWriter(tmp_path / "ds", SETTINGS, overwrite=False)
    w.append_records([_write(w, 0, "a.jpg")])
    w.append_records([_write(w, 1, "b.jpg", 2), _write(w, 2, "b.jpg", 2)])
    w.close()
    manifest = tmp_path / "ds" / MANIFEST
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text(lines[0] + lines[1] + lines[2][:10])  # killed while writing b's second line
    w2 = DatasetWriter(tmp_path / "ds", SETTINGS, overwrite=False)
    assert [r["source"] for r in w2.records] == ["a.jpg"]
    assert manifest.read_text() == lines[0]
    assert w2.next_id == 1
    w2.remove_orphans()
    assert sorted(p.name for p in (tmp_path / "ds" / "masked").iterdir()) == ["000000.png"]
    w2.close()


def test_other_settings_refuse_to_resume_until_overwrite(tmp_path):
    w = DatasetWriter(tmp_path / "ds", SETTINGS, overwrite=False)
    w.close()
    (tmp_path / "ds" / "mine.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="other settings.*seed.*--overwrite"):
        DatasetWriter(tmp_path / "ds", {**SETTINGS, "seed": 1}, overwrite=False)
    DatasetWriter(tmp_path / "ds", {**SETTINGS, "seed": 1}, overwrite=True).close()
    assert json.loads((tmp_path / "ds" / INFO).read_text())["settings"]["seed"] == 1
    assert (tmp_path / "ds" / "mine.txt").read_text() == "keep me"  # overwrite removes only our files


def test_output_that_is_a_file_or_a_foreign_folder_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match="not a folder"):
        DatasetWriter(tmp_path / "file", SETTINGS, overwrite=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "thesis.tex").write_text("x")
    with pytest.raises(DatasetError, match="not empty"):
        DatasetWriter(tmp_path / "other", SETTINGS, overwrite=False)
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["thesis.tex"]
