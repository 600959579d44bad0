"""Registry merging and overrides, and fetch orchestration: cache reuse, corruption, locks, offline."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading

import pytest
from fetch_server import serve

from maskaway_cli.assets import cache
from maskaway_cli.assets.fetch import FetchOptions, fetch_asset, list_assets, verify_asset
from maskaway_cli.assets.http import HttpConfig
from maskaway_cli.assets.registry import asset_from_dict, load_registry
from maskaway_cli.errors import AssetError, ChecksumError, OfflineError

DATA = os.urandom(200_000)
SHA = hashlib.sha256(DATA).hexdigest()
FAST = HttpConfig(connect_timeout=2, read_timeout=2, backoff_base=0.01, max_stalled=2, chunk_size=8192, free_margin=0)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    for var in ("MASKAWAY_CACHE_DIR", "MASKAWAY_OFFLINE", "MASKAWAY_MIRROR", "MASKAWAY_GDRIVE_URL", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "home"


def test_builtin_entries_carry_the_published_checksums(home):
    reg = load_registry()
    assert reg["lfw"].sha256 == "b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a"
    assert reg["lfw"].urls == ("https://ndownloader.figshare.com/files/5976015",) and reg["lfw"].archive == "tar.gz"
    assert reg["celeba"].md5 == "00d2c5bc6d35e252742224ab0c1e8fcb" and reg["celeba"].gdrive_id == "0B7EVK8r0v71pZjFTYXZWM3FlRnM"
    assert reg["maskaway-original"].source == "gdrive-folder"
    assert reg["maskaway-original"].gdrive_id == "1ju73lV7JwQr7km5mkPpsYthYtmzNIq3a"
    # no entry without a real location: the bundled weights have none (a user registry can add one)
    assert not {"weights-seg", "weights-gan"} & set(reg)
    assert all("example.invalid" not in u for a in reg.values() for u in a.urls)


def test_user_registries_and_env_overrides_merge_in_order(home, tmp_path, monkeypatch):
    (home / "config").mkdir(parents=True)
    (home / "config" / "registry.toml").write_text('[weights-seg]\nkind = "weights"\nlicense = "non-commercial"\n'
                                                   'urls = ["https://config.example/seg.safetensors"]\n'
                                                   '[weights-gan]\nkind = "weights"\nurls = ["https://config.example/gan.safetensors"]\n'
                                                   '[mine]\nurls = ["https://x.example/a/b.bin"]\nsha256 = "%s"\n' % SHA)
    assert load_registry()["weights-seg"].urls == ("https://config.example/seg.safetensors",)
    extra = tmp_path / "extra.toml"
    extra.write_text('[weights-seg]\nurls = ["https://cli.example/seg.safetensors"]\n')
    reg = load_registry(extra)
    assert reg["weights-seg"].urls == ("https://cli.example/seg.safetensors",)
    assert reg["weights-seg"].license.startswith("non-commercial")  # merged field by field, not replaced
    assert reg["weights-seg"].kind == "weights"
    assert reg["mine"].filename == "b.bin"
    monkeypatch.setenv("MASKAWAY_URL_WEIGHTS_GAN", "https://env.example/gan.safetensors")
    monkeypatch.setenv("MASKAWAY_MIRROR", "http://mirror.local:8080/pub/")
    reg = load_registry(extra)
    assert reg["weights-gan"].urls == ("http://mirror.local:8080/pub/gan.safetensors",)
    assert reg["lfw"].urls == ("http://mirror.local:8080/pub/files/5976015",)
    assert reg["celeba"].source == "http" and reg["celeba"].urls == ("http://mirror.local:8080/pub/celeba/img_align_celeba.zip",)


@pytest.mark.parametrize("table, message", [
    ({"urls": ["http://x/y"], "sha256": "abc"}, "sha256 must be 64 hex"),
    ({"urls": ["http://x/y"], "kind": "model"}, "kind must be"),
    ({"urls": ["http://x/y"], "filename": "../escape"}, "plain file name"),
    ({"source": "http"}, "at least one URL"),
    ({"source": "gdrive-file"}, "gdrive_id"),
])
def test_bad_registry_entries_are_rejected(table, message):
    with pytest.raises(AssetError, match=message):
        asset_from_dict("bad", table)


def test_invalid_toml_is_one_clear_error(home, tmp_path):
    bad = tmp_path / "r.toml"
    bad.write_text("[lfw\n")
    with pytest.raises(AssetError, match="not valid TOML"):
        load_registry(bad)


def serve_asset(srv, data=DATA):
    srv.routes["/a.bin"] = lambda h: h.send_file(data)
    return asset_from_dict("test-asset", {"urls": [f"{srv.url}/a.bin"], "sha256": SHA})


def test_fetch_reuses_a_verified_cache_and_redownloads_a_corrupt_one(home):
    with serve() as srv:
        asset = serve_asset(srv)
        first = fetch_asset(asset, opts=FetchOptions(http=FAST))
        assert first.files[0].downloaded and first.files[0].path == home / "cache" / "test-asset" / "a.bin"
        again = fetch_asset(asset, opts=FetchOptions(http=FAST))
        assert not again.files[0].downloaded and len(srv.hits("/a.bin")) == 1
        corrupt = bytearray(DATA)
        corrupt[10] ^= 1
        first.files[0].path.write_bytes(bytes(corrupt))
        assert verify_asset(asset)["status"] == "corrupt"
        fixed = fetch_asset(asset, opts=FetchOptions(http=FAST))
        assert fixed.files[0].downloaded and len(srv.hits("/a.bin")) == 2
    assert first.files[0].path.read_bytes() == DATA
    assert verify_asset(asset)["status"] == "ok"


def test_mirrors_are_tried_in_order(home):
    with serve() as srv:
        srv.routes["/a.bin"] = lambda h: h.send_file(DATA)
        asset = asset_from_dict("two", {"urls": [f"{srv.url}/gone.bin", f"{srv.url}/a.bin"], "sha256": SHA, "filename": "a.bin"})
        result = fetch_asset(asset, opts=FetchOptions(http=FAST))
    assert result.files[0].path.read_bytes() == DATA


def test_two_concurrent_fetches_of_one_asset(home):
    with serve() as srv:
        asset = serve_asset(srv)
        results, errors = [], []

        def run():
            try:
                results.append(fetch_asset(asset, opts=FetchOptions(http=FAST)))
            except Exception as exc:  # noqa: BLE001 - surfaced by the assert below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == [] and len(results) == 2
    folder = home / "cache" / "test-asset"
    assert sorted(p.name for p in folder.iterdir()) == ["a.bin"]  # no temp files left
    assert (folder / "a.bin").read_bytes() == DATA
    assert sorted(r.files[0].downloaded for r in results) == [False, True]  # the second waited and reused


def test_offline_with_cold_and_warm_cache(home, monkeypatch):
    with serve() as srv:
        asset = serve_asset(srv)
        monkeypatch.setenv("MASKAWAY_OFFLINE", "1")
        with pytest.raises(OfflineError, match="not in the cache"):
            fetch_asset(asset, opts=FetchOptions(http=FAST))
        assert srv.hits("/a.bin") == []
        monkeypatch.delenv("MASKAWAY_OFFLINE")
        fetch_asset(asset, opts=FetchOptions(http=FAST))
        monkeypatch.setenv("MASKAWAY_OFFLINE", "1")
        warm = fetch_asset(asset, opts=FetchOptions(http=FAST))
        assert len(srv.hits("/a.bin")) == 1
    assert warm.files[0].path.read_bytes() == DATA


def test_archive_asset_is_extracted_and_weights_land_in_the_weights_folder(home):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("lfw_funneled/Ann/Ann_0001.jpg")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"jpeg"))
    tgz = buf.getvalue()
    with serve() as srv:
        srv.routes["/lfw.tgz"] = lambda h: h.send_file(tgz)
        srv.routes["/seg.safetensors"] = lambda h: h.send_file(DATA)
        data_asset = asset_from_dict("lfw", {"urls": [f"{srv.url}/lfw.tgz"], "sha256": hashlib.sha256(tgz).hexdigest(), "archive": "tar.gz"})
        result = fetch_asset(data_asset, opts=FetchOptions(http=FAST))
        weights = asset_from_dict("weights-seg", {"kind": "weights", "urls": [f"{srv.url}/seg.safetensors"]})
        w = fetch_asset(weights, opts=FetchOptions(http=FAST))
    assert (result.extracted / "lfw_funneled" / "Ann" / "Ann_0001.jpg").read_bytes() == b"jpeg"
    assert w.files[0].path == home / "data" / "weights" / "seg.safetensors"
    rows = {r["name"]: r for r in list_assets({"lfw": data_asset, "weights-seg": weights})}
    assert rows["lfw"]["cached"] and rows["weights-seg"]["cached"]
    assert rows["weights-seg"]["checksum"] == "recorded on first fetch"


def test_checksum_failure_leaves_no_record(home):
    with serve() as srv:
        asset = serve_asset(srv, data=DATA[:-1] + b"X")
        with pytest.raises(ChecksumError):
            fetch_asset(asset, opts=FetchOptions(http=FAST))
    assert cache.read_record("test-asset") is None
    assert list((home / "cache" / "test-asset").iterdir()) == []
