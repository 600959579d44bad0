"""The mask-presence classifier: the model, its weights, its training and calibration, and how the
Unmasker uses it to leave faces without a mask alone."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unmask_helpers import make_weights


def _presence_weights(path, *, bias: float, threshold: float = 0.5, train: dict | None = None):
    """A presence model whose score is (almost) fixed by the bias of its head."""
    import torch

    from maskaway_cli.models.presence import PresenceConfig, PresenceNet
    from maskaway_cli.weights_io import WeightsMeta, save_weights

    torch.manual_seed(0)
    model = PresenceNet().eval()
    with torch.no_grad():
        model.head[1].weight.zero_()
        model.head[1].bias.fill_(bias)
    meta = WeightsMeta(kind="presence", arch=PresenceConfig().to_dict(), image_size=128,
                       info={"calibration": {"threshold": threshold}, **({"train": train} if train else {})})
    return save_weights(path, model.state_dict(), meta)


def test_presence_net_scores_any_crop_size():
    import torch

    from maskaway_cli.models.presence import PresenceNet

    net = PresenceNet().eval()
    for side in (64, 128, 200):
        assert net(torch.rand(3, 3, side, side)).shape == (3,)


def test_presence_weights_round_trip(tmp_path):
    import torch

    from maskaway_cli.models.presence import PresenceConfig, PresenceNet
    from maskaway_cli.weights_io import WeightsMeta, load_model, save_weights

    torch.manual_seed(1)
    net = PresenceNet(PresenceConfig(widths=(8, 16, 16, 32))).eval()
    path = save_weights(tmp_path / "p.safetensors", net.state_dict(),
                        WeightsMeta(kind="presence", arch=net.config.to_dict(), image_size=128))
    loaded, meta = load_model(path, kind="presence")
    x = torch.rand(2, 3, 128, 128)
    assert meta.kind == "presence" and loaded.config == net.config
    torch.testing.assert_close(loaded(x), net(x))


def test_held_out_half_is_stable_and_about_half():
    from maskaway_cli.train.presence import held_out

    names = [f"photo{i}.jpg" for i in range(2000)]
    share = np.mean([held_out(n) for n in names])
    assert 0.45 < share < 0.55
    assert held_out("a/b/photo7.jpg") == held_out("photo7.jpg")  # by the file name, wherever it lies


def test_calibrate_picks_the_lowest_threshold_within_the_false_positive_budget():
    from maskaway_cli.train.presence import calibrate

    labels = np.array([0] * 10 + [1] * 4)
    oof = np.array([0.1] * 8 + [0.6, 0.9] + [0.95, 0.8, 0.7, 0.3])
    c = calibrate(oof, labels, max_false_positive=0.1)  # one of the ten unmasked may pass: 0.9 only
    assert c["threshold"] == pytest.approx(0.61)
    assert c["unmasked_flagged"] == pytest.approx(0.1) and c["masked_found"] == pytest.approx(0.75)
    assert calibrate(oof, labels, max_false_positive=0.0)["threshold"] == pytest.approx(0.91)


def test_training_learns_a_visible_difference():
    """Faces with a dark lower half (masked) against plain ones: a short run separates them."""
    from maskaway_cli.train.presence import Faces, PresenceTrainConfig, scores, train_classifier

    rng = np.random.default_rng(0)
    crops = rng.integers(120, 200, (96, 64, 64, 3), dtype=np.uint8)
    labels = np.arange(96) % 2
    crops[labels == 1, 36:60, 12:52] = rng.integers(0, 40, (48, 24, 40, 3), dtype=np.uint8)
    real = Faces(crops, labels, [f"p{i}" for i in range(96)])
    model = train_classifier(real, Faces.join([]), PresenceTrainConfig(steps=120, batch_size=32, synthetic_per_batch=0))
    p = scores(model, crops)
    assert p.shape == (96,) and np.mean((p >= 0.5) == (labels == 1)) > 0.9


def _masked_crop():
    crop = np.full((64, 64, 3), 150, np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[36:60, 12:52] = 255
    return crop, mask


def test_unmasker_leaves_a_face_alone_when_no_mask_is_worn(tmp_path):
    """Painted when the presence model says a mask is worn, or when the segmenter alone is sure (at least
    --min-confidence); left alone, and reported, when neither is."""
    from maskaway_cli.unmask.pipeline import Unmasker
    from maskaway_cli.unmask.stages import Face, face_reports

    weights = make_weights(tmp_path / "w")
    crop, _ = _masked_crop()
    probs = np.full((1, 64, 64), 0.9, np.float32)  # the segmenter sees a mask everywhere, mean 0.9
    no_weights = {**weights, "presence": _presence_weights(tmp_path / "no.safetensors", bias=-6.0)}
    no = Unmasker(no_weights, device="cpu", min_confidence=0.95)
    [out] = no([crop], probs=probs)
    assert no.min_presence == 0.5  # the calibrated threshold from the weights' metadata
    assert not out.has_mask and out.worn is False and out.presence < 0.01
    assert np.array_equal(out.result, crop) and not out.mask.any()
    [report] = face_reports([Face(np.eye(2, 3), crop, None, (0.0, 0.0, 9.0, 9.0))], [out])
    assert report["status"] == "no mask found" and report["presence"] < 0.01

    # the segmenter sure enough on its own: painted although the presence model says no
    [out] = Unmasker(no_weights, device="cpu", min_confidence=0.85)([crop], probs=probs)
    assert out.has_mask and out.worn is False

    yes = Unmasker({**weights, "presence": _presence_weights(tmp_path / "yes.safetensors", bias=6.0)}, device="cpu",
                   min_confidence=0.95)
    [out] = yes([crop], probs=probs)
    assert out.has_mask and out.worn and out.presence > 0.99
    # asked to, the user can paint whatever the segmenter finds
    [out] = Unmasker(no_weights, device="cpu", min_presence=0.0, min_confidence=0.95)([crop], probs=probs)
    assert out.has_mask


def test_a_worn_mask_the_segmenter_barely_sees_is_taken_at_a_lower_threshold(tmp_path):
    from maskaway_cli.unmask.pipeline import Unmasker
    from maskaway_cli.unmask.stages import Face, face_reports

    weights = make_weights(tmp_path / "w")
    crop, mask = _masked_crop()
    probs = np.where(mask > 0, 0.25, 0.01).astype(np.float32)[None]  # below 0.5, above 0.5 / 3
    yes = Unmasker({**weights, "presence": _presence_weights(tmp_path / "y.safetensors", bias=6.0)}, device="cpu",
                   threshold=0.5, min_confidence=0.95)
    [out] = yes([crop], probs=probs)
    assert out.has_mask and (out.mask > 0).sum() >= (mask > 0).sum()
    no = Unmasker({**weights, "presence": _presence_weights(tmp_path / "n.safetensors", bias=-6.0)}, device="cpu",
                  threshold=0.5, min_confidence=0.95)
    [out] = no([crop], probs=probs)
    assert not out.has_mask and out.mask_fraction == 0.0  # no rescue without a worn mask
    # worn, but nothing at all to segment: reported so, not silently dropped
    [out] = yes([crop], probs=np.full((1, 64, 64), 0.01, np.float32))
    assert not out.has_mask
    [report] = face_reports([Face(np.eye(2, 3), crop, None, (0.0, 0.0, 9.0, 9.0))], [out])
    assert report["status"] == "mask seen, not segmented"


def test_bad_min_presence_is_a_usage_error(tmp_path):
    from maskaway_cli.errors import UsageError
    from maskaway_cli.unmask.pipeline import Unmasker

    weights = {**make_weights(tmp_path / "w"), "presence": _presence_weights(tmp_path / "p.safetensors", bias=0.0)}
    with pytest.raises(UsageError, match="--min-presence"):
        Unmasker(weights, device="cpu", min_presence=1.5)


def test_resolve_weights_adds_an_installed_presence_model_only_when_asked(tmp_path, monkeypatch):
    from maskaway_cli import paths
    from maskaway_cli.unmask.pipeline import resolve_weights

    user = tmp_path / "user"
    make_weights(user)
    _presence_weights(user / "presence.safetensors", bias=0.0)
    monkeypatch.setattr(paths, "user_weights_dir", lambda: user)
    assert set(resolve_weights(())) == {"segmenter", "generator", "presence"}
    assert set(resolve_weights((), need=("generator",), optional=())) == {"generator"}
    (user / "presence.safetensors").unlink()
    monkeypatch.setattr(paths, "bundled_weights_dir", lambda: tmp_path / "none")
    assert set(resolve_weights(())) == {"segmenter", "generator"}  # optional: left out, no error


def test_real_faces_are_collected_from_the_training_half_only(tmp_path):
    """Labelled photos: each label matched to a detected, aligned face; the held-out half is skipped."""
    import json
    import shutil
    from pathlib import Path

    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.train.presence import held_out, labelled_faces, masked_photos

    examples = Path(__file__).resolve().parents[1] / "examples"
    assert not held_out("maksssksksss340.jpg") and held_out("maksssksksss106.jpg")
    shutil.copy(examples / "maskdet_maksssksksss340.jpg", tmp_path / "maksssksksss340.jpg")
    shutil.copy(examples / "maskdet_maksssksksss106.jpg", tmp_path / "maksssksksss106.jpg")
    rows = [{"file": "maksssksksss340.jpg", "faces": [
                {"box": [133, 83, 195, 140], "label": "without_mask"}, {"box": [243, 85, 308, 147], "label": "with_mask"},
                {"box": [458, 68, 527, 157], "label": "mask_worn_incorrectly"}, {"box": [0, 300, 8, 308], "label": "with_mask"}]},
            {"file": "maksssksksss106.jpg", "faces": [{"box": [210, 10, 380, 225], "label": "with_mask"}]}]
    (tmp_path / "annotations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    detect = make_detector(DetectorConfig(min_face=16))
    faces = labelled_faces(tmp_path, detect, align_size=128)
    # the 8 px label is too small; a mask worn incorrectly is still a mask to remove
    assert faces.labels.tolist() == [0, 1, 1] and faces.crops.shape == (3, 64, 64, 3)
    assert faces.groups == ["maksssksksss340.jpg"] * 3
    photos = masked_photos(tmp_path, detect, align_size=128)
    assert photos.groups == ["maksssksksss340.jpg"] and photos.labels.tolist() == [1]
    # the released model is trained on both halves
    every = labelled_faces(tmp_path, detect, align_size=128, all_photos=True)
    assert every.labels.tolist() == [0, 1, 1, 1] and every.groups[-1] == "maksssksksss106.jpg"
    assert masked_photos(tmp_path, detect, align_size=128, all_photos=True).groups == [
        "maksssksksss106.jpg", "maksssksksss340.jpg"]


def test_a_presence_model_trained_on_every_photo_is_flagged(tmp_path):
    """The benchmarks say when their held-out half is not held out for the presence model."""
    from maskaway_cli.train.presence import seen_every_photo

    half = _presence_weights(tmp_path / "h.safetensors", bias=0.0, train={"photos": "training half"})
    every = _presence_weights(tmp_path / "a.safetensors", bias=0.0, train={"photos": "all"})
    assert seen_every_photo({"presence": every})
    assert not seen_every_photo({"presence": half}) and not seen_every_photo({})
    assert not seen_every_photo({"presence": _presence_weights(tmp_path / "o.safetensors", bias=0.0)})


def test_only_the_faces_to_paint_go_through_the_generator(tmp_path, monkeypatch):
    import maskaway_cli.models.unet as unet
    from maskaway_cli.unmask.pipeline import Unmasker

    seen = []
    real = unet.inpaint
    monkeypatch.setattr(unet, "inpaint", lambda g, x, m: seen.append(len(x)) or real(g, x, m))
    weights = make_weights(tmp_path / "w")
    crop, _ = _masked_crop()
    probs = np.full((3, 64, 64), 0.9, np.float32)
    no = Unmasker({**weights, "presence": _presence_weights(tmp_path / "n.safetensors", bias=-6.0)}, device="cpu",
                  min_confidence=0.95)
    outs = no([crop] * 3, probs=probs)
    assert seen == [] and all(np.array_equal(o.result, crop) for o in outs)
    yes = Unmasker({**weights, "presence": _presence_weights(tmp_path / "y.safetensors", bias=6.0)}, device="cpu")
    assert all(o.has_mask for o in yes([crop] * 3, probs=probs)) and seen == [3]
