"""The presence model's second opinion: a probe on the segmenter's pooled encoder, tied to that segmenter."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unmask_helpers import make_weights


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float((pos[:, None] > neg[None]).mean())


def test_the_pooled_summary_leaves_the_logits_alone_and_sees_the_lower_half():
    import torch

    from maskaway_cli.models import Segmenter, UNetConfig

    torch.manual_seed(0)
    seg = Segmenter(UNetConfig.for_size(64, in_channels=3, out_channels=1, base_channels=8, max_channels=16)).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        logits, summary = seg(x, pooled=True)
        torch.testing.assert_close(logits, seg(x))
        assert summary.shape == (2, seg.net.pooled_width())
        y = x.clone()
        y[:, :, 48:] = 1.0  # only the chin changes
        _, other = seg(y, pooled=True)
    w = seg.net.config.widths()[-1]
    whole, lower = (other - summary)[:, -2 * w : -w], (other - summary)[:, -w:]
    assert lower.abs().mean() > whole.abs().mean()  # the lower-half part reacts more to the chin


def test_a_fingerprint_is_shared_by_a_run_and_its_fp16_bundle_only(tmp_path):
    import torch
    from safetensors.torch import load_file

    from maskaway_cli.weights_io import fingerprint, load_model, read_meta, save_weights

    path = make_weights(tmp_path / "w")["segmenter"]
    run, _ = load_model(path)
    half = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    bundled, _ = load_model(save_weights(tmp_path / "b.safetensors", half, read_meta(path)))
    assert fingerprint(run) == fingerprint(bundled)
    with torch.no_grad():
        next(bundled.parameters())[0].add_(0.01)
    assert fingerprint(run) != fingerprint(bundled)
    other, _ = load_model(make_weights(tmp_path / "o", seed=3)["segmenter"])
    assert fingerprint(other) != fingerprint(run)


def test_the_probe_learns_a_signal_and_out_of_fold_keeps_each_photo_unseen():
    from maskaway_cli.train.presence import Faces, PresenceTrainConfig, fit_probe, out_of_fold_probe, probe_logits

    rng = np.random.default_rng(0)
    cfg = PresenceTrainConfig()
    labels = rng.integers(0, 2, 400)
    signal = rng.normal(size=(400, 20)).astype(np.float32)
    signal[:, 0] += 2.0 * labels
    assert _auc(probe_logits(fit_probe(signal, labels, cfg), signal), labels) > 0.9
    # Noise features, but every face of a photo is a copy: a probe that saw the photo would just remember
    # it. Out of fold it cannot, and scores at chance.
    photos = 80
    per_photo = rng.normal(size=(photos, 200)).astype(np.float32)
    photo_label = rng.integers(0, 2, photos)
    which = np.repeat(np.arange(photos), 5)
    real = Faces(np.zeros((len(which), 1, 1, 3), np.uint8), photo_label[which], [f"p{i}.jpg" for i in which])
    seen = probe_logits(fit_probe(per_photo[which], real.labels, cfg), per_photo[which])
    oof = out_of_fold_probe(per_photo[which], real, cfg)
    assert _auc(seen, real.labels) > 0.95 and _auc(oof, real.labels) < 0.75


def test_attach_probe_calibrates_the_combined_score_and_keeps_the_cnns_threshold():
    import torch

    from maskaway_cli.models.presence import PresenceConfig, PresenceNet
    from maskaway_cli.train.presence import Faces, PresenceTrainConfig, attach_probe, calibrate

    rng = np.random.default_rng(1)
    n = 300
    labels = (np.arange(n) % 3 > 0).astype(np.int64)
    real = Faces(np.zeros((n, 1, 1, 3), np.uint8), labels, [f"p{i}.jpg" for i in range(n)])
    oof = np.clip(0.5 + 0.3 * (labels - 0.5) + rng.normal(0, 0.25, n), 0.01, 0.99).astype(np.float32)  # a weak CNN
    summaries = rng.normal(size=(n, 12)).astype(np.float32)
    summaries[:, 0] += 3.0 * labels  # a strong second opinion
    cfg = PresenceTrainConfig(model=PresenceConfig(widths=(4, 4, 4, 4)))
    alone = calibrate(oof, labels, max_false_positive=0.02)
    cnn = PresenceNet(cfg.model).eval()
    model, calibration, combined = attach_probe(cnn, summaries, real, oof, alone, cfg=cfg, segmenter="abc")
    assert calibration["segmenter"] == "abc" and calibration["threshold_alone"] == alone["threshold"]
    assert calibration["masked_found"] > alone["masked_found"]  # the pair finds more at the same 2%
    assert np.mean(combined[labels == 0] >= calibration["threshold"]) <= 0.02
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), cnn(x))  # the CNN is carried over as it was
        assert _auc(model.probe(torch.from_numpy(summaries)).numpy(), labels) > 0.95  # the probe fitted on all


def _probe_presence(path, *, seg_id: str, features: int):
    """A presence model whose CNN says 0.5 and whose probe says "mask" (logit 8), calibrated at 0.9 together
    and 0.6 alone."""
    import torch

    from maskaway_cli.models.presence import PresenceConfig, PresenceNet
    from maskaway_cli.weights_io import WeightsMeta, save_weights

    model = PresenceNet(PresenceConfig(probe_features=features)).eval()
    with torch.no_grad():
        model.head[1].weight.zero_()
        model.head[1].bias.zero_()
        model.probe.linear.weight.zero_()
        model.probe.linear.bias.fill_(8.0)
    calibration = {"threshold": 0.9, "threshold_alone": 0.6, "segmenter": seg_id}
    meta = WeightsMeta(kind="presence", arch=model.config.to_dict(), image_size=128, info={"calibration": calibration})
    return save_weights(path, model.state_dict(), meta)


def test_unmask_uses_the_probe_only_with_the_segmenter_it_was_fitted_on(tmp_path):
    from maskaway_cli.unmask.pipeline import Unmasker
    from maskaway_cli.weights_io import fingerprint, load_model

    weights = make_weights(tmp_path / "w")
    seg, _ = load_model(weights["segmenter"])
    presence = _probe_presence(tmp_path / "p.safetensors", seg_id=fingerprint(seg), features=seg.net.pooled_width())
    crop = np.full((64, 64, 3), 150, np.uint8)
    ours = Unmasker({**weights, "presence": presence}, device="cpu", min_confidence=0.99)
    [out] = ours([crop])
    assert ours.probe and ours.min_presence == 0.9
    assert out.presence == pytest.approx(1 / (1 + np.exp(-4.0)), abs=1e-3) and out.worn  # (0 + 8) / 2
    other = Unmasker({**make_weights(tmp_path / "o", seed=5), "presence": presence}, device="cpu", min_confidence=0.99)
    [out] = other([crop])
    assert not other.probe and other.min_presence == 0.6  # the CNN alone, at its own threshold
    assert out.presence == pytest.approx(0.5, abs=1e-3) and not out.worn
