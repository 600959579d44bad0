"""Dataset layouts (ours and the original release), the packed cache and the batch feeder."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from maskaway_cli.data.cache import open_packed
from maskaway_cli.data.feeder import BatchFeeder
from maskaway_cli.data.io import read_binary, read_rgb, save_png
from maskaway_cli.data.layout import hash_split, read_dataset
from maskaway_cli.data.toy import make_toy_dataset
from maskaway_cli.errors import DatasetError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_our_layout_reads_manifest_splits_and_skips_a_torn_line(tmp_path) -> None:
    root = make_toy_dataset(tmp_path / "ds", n=8, size=32)
    with (root / "manifest.jsonl").open("a") as fh:
        fh.write('{"id": "000099", "spl')  # a crash mid-write
    save_png(root / "masked" / "000050.png", np.zeros((32, 32, 3), np.uint8))  # no partners, no manifest line
    index = read_dataset(root)
    assert index.layout == "maskaway"
    assert [s.id for s in index.samples] == [f"{i:06d}" for i in range(8)]
    assert [s.split for s in index.samples] == ["train"] * 6 + ["val"] + ["test"]
    assert index.split("val") == [6]


def test_release_layout_gets_a_stable_hash_split(tmp_path) -> None:
    root = make_toy_dataset(tmp_path / "rel", n=40, size=32, layout="release")
    assert not (root / "manifest.jsonl").exists()
    index = read_dataset(root)
    assert index.layout == "release" and len(index.samples) == 40
    assert all(s.split == hash_split(s.id) for s in index.samples)
    assert {s.split for s in index.samples} <= {"train", "val", "test"}
    assert hash_split("000001") == hash_split("000001")
    counts = [hash_split(f"{i:06d}") for i in range(4000)].count("train")
    assert 0.87 < counts / 4000 < 0.93  # 90/5/5


def test_not_a_dataset_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        read_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a dataset"):
        read_dataset(tmp_path / "empty")
    for d in ("original", "masked", "binary"):
        (tmp_path / "hollow" / d).mkdir(parents=True)
    with pytest.raises(DatasetError, match="no complete samples"):
        read_dataset(tmp_path / "hollow")


def test_packed_cache_matches_the_pngs_and_is_memory_mapped(tmp_path, home) -> None:
    root = make_toy_dataset(tmp_path / "ds", n=6, size=32)
    packed = open_packed(read_dataset(root))
    assert isinstance(packed.masked, np.memmap) and not packed.masked.flags.writeable
    assert packed.masked.shape == (6, 32, 32, 3) and packed.binary.shape == (6, 32, 32)
    assert str(packed.folder).startswith(str(home))
    s = read_dataset(root).samples[3]
    assert np.array_equal(packed.masked[3], read_rgb(s.masked))
    assert np.array_equal(packed.original[3], read_rgb(s.original))
    assert np.array_equal(packed.binary[3], read_binary(s.binary))
    assert set(np.unique(packed.binary)) <= {0, 1}


def test_packed_cache_is_reused_and_rebuilt_when_the_dataset_changes(tmp_path, home) -> None:
    root = make_toy_dataset(tmp_path / "ds", n=6, size=32)
    first = open_packed(read_dataset(root))
    mtime = (first.folder / "masked.npy").stat().st_mtime_ns
    again = open_packed(read_dataset(root))
    assert again.folder == first.folder and (again.folder / "masked.npy").stat().st_mtime_ns == mtime
    target = root / "masked" / "000002.png"
    save_png(target, np.full((32, 32, 3), 7, np.uint8))
    os.utime(target, ns=(1, 1))  # different mtime even on coarse clocks
    changed = open_packed(read_dataset(root))
    assert changed.folder != first.folder
    assert (changed.masked[2] == 7).all()
    assert not first.folder.exists()  # the stale cache of the same dataset is dropped


def test_images_of_another_size_are_refused_and_leave_no_cache(tmp_path, home) -> None:
    root = make_toy_dataset(tmp_path / "ds", n=4, size=32)
    save_png(root / "original" / "000001.png", np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(DatasetError, match="000001"):
        open_packed(read_dataset(root))
    packed_root = home / "cache" / "packed"
    assert not any(p.is_dir() and (p / "index.json").exists() for p in packed_root.iterdir())
    assert not [p.name for p in packed_root.iterdir() if "partial" in p.name]  # the half-built cache is gone


def test_feeder_order_is_a_pure_function_of_seed_and_position(tmp_path, home) -> None:
    root = make_toy_dataset(tmp_path / "ds", n=10, size=32)
    packed = open_packed(read_dataset(root))
    rows = np.arange(10)
    a = BatchFeeder(packed, rows, batch_size=3, seed=1, device="cpu")
    b = BatchFeeder(packed, rows, batch_size=3, seed=1, device="cpu")
    assert a.per_epoch == 3  # drop last
    epoch0 = np.concatenate([a.select(p) for p in range(3)])
    assert len(set(epoch0.tolist())) == 9
    assert np.array_equal(b.select(4), a.select(4))  # fresh feeder, same batch: resume needs only p
    assert not np.array_equal(np.concatenate([a.select(p) for p in range(3, 6)]), epoch0)
    batch = a.batch(0)
    assert batch.masked.shape == (3, 3, 32, 32) and batch.masked.dtype == torch.float32
    assert batch.mask.shape == (3, 1, 32, 32) and set(batch.mask.unique().tolist()) <= {0.0, 1.0}
    sel = a.select(0)
    assert torch.equal(batch.original[0], torch.from_numpy(np.array(packed.original[sel[0]])).permute(2, 0, 1) / 255)
    streamed = next(a.stream(4, prefetch=2))
    assert torch.equal(streamed.masked, a.batch(4).masked)
    with pytest.raises(ValueError):
        BatchFeeder(packed, rows[:2], batch_size=3, seed=0, device="cpu")


def test_pngset_reference_dataset_matches_the_cache(tmp_path, home) -> None:
    from maskaway_cli.data.pngset import PngTriplets

    root = make_toy_dataset(tmp_path / "ds", n=4, size=32)
    index = read_dataset(root)
    packed = open_packed(index)
    masked, original, mask = PngTriplets(index, [2])[0]
    assert torch.equal(masked, torch.from_numpy(np.array(packed.masked[2])).permute(2, 0, 1).float() / 255)
    assert torch.equal(mask[0], torch.from_numpy(np.array(packed.binary[2])).float())


def test_two_builders_of_one_cache_at_once_both_succeed(tmp_path, home) -> None:
    """`train seg` and `train gan` started together on a fresh dataset both build the packed cache."""
    import threading

    index = read_dataset(make_toy_dataset(tmp_path / "ds", n=40))
    abandoned = (home / "cache" / "packed").glob("*")  # nothing yet
    assert not list(abandoned)
    results, errors = [], []

    def build() -> None:
        try:
            results.append(open_packed(index, workers=1))
        except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 3
    for packed in results:
        assert np.array_equal(packed.masked[7], read_rgb(index.samples[7].masked))
    leftovers = [p.name for p in (home / "cache" / "packed").iterdir() if "partial" in p.name]
    assert leftovers == []
