"""The 128 px generator's parts: bottleneck context blocks, the detail losses, the sharpness measure."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from maskaway_cli.models import Critic, CriticConfig, Generator, UNetConfig
from maskaway_cli.weights_io import WeightsMeta, load_model, save_weights


def _blur(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), 5, stride=1)


def test_bottleneck_and_context_blocks_shape_and_round_trip(tmp_path) -> None:
    cfg = UNetConfig.for_size(128, in_channels=4, out_channels=3, base_channels=2, max_channels=8,
                              bottleneck=8, context=("dil2", "dil4", "attn"))
    assert cfg.depth == 4 and cfg.widths()[-1] == 8
    gen = Generator(cfg)
    kinds = [type(m).__name__ for m in gen.net.context]
    assert kinds == ["DilatedBlock", "DilatedBlock", "SelfAttention"]
    assert gen.net.context[1].body[0].dilation == (4, 4)
    x, m = torch.rand(2, 3, 128, 128) * 2 - 1, torch.zeros(2, 1, 128, 128)
    m[..., 64:, 30:100] = 1
    assert gen(x, m).shape == (2, 3, 128, 128)
    # the metadata stores the blocks as a JSON list; loading rebuilds the same model
    path = save_weights(tmp_path / "g.safetensors", gen.eval().state_dict(),
                        WeightsMeta(kind="generator", arch=cfg.to_dict(), image_size=128, info={}))
    loaded, meta = load_model(path, kind="generator")
    assert meta.arch["context"] == ["dil2", "dil4", "attn"] and loaded.config == cfg
    with torch.no_grad():
        assert torch.equal(loaded(x, m), gen(x, m))


def test_attention_lets_a_far_cell_change_the_output() -> None:
    # without attention, the 3x3 convs of this small U-Net cannot carry the top-left corner to the
    # bottom-right one at all; with it, they can
    def corner_effect(context: tuple[str, ...]) -> float:
        torch.manual_seed(0)
        gen = Generator(UNetConfig(4, 3, base_channels=8, max_channels=16, depth=2, context=context)).eval()
        if context:
            torch.nn.init.constant_(gen.net.context[0].gamma, 1.0)  # open the gate (training does this)
        x, m = torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)
        y = x.clone()
        y[..., :4, :4] = 0.0  # top-left corner only
        with torch.no_grad():
            return float((gen.raw(x, m) - gen.raw(y, m)).abs()[..., -8:, -8:].max())

    assert corner_effect(()) == 0.0
    assert corner_effect(("attn",)) > 0.0


def test_old_configs_load_without_context_and_bad_blocks_are_refused() -> None:
    old = {"in_channels": 4, "out_channels": 3, "base_channels": 32, "max_channels": 256, "depth": 4}
    assert UNetConfig(**old).context == ()
    with pytest.raises(ValueError, match="context block"):
        UNetConfig(4, 3, context=("dilx",))
    with pytest.raises(ValueError, match="bottleneck"):
        UNetConfig.for_size(64, in_channels=4, out_channels=3, bottleneck=32)


def test_high_frequency_term_punishes_blur_inside_the_mask_only() -> None:
    from maskaway_cli.train.losses import high_frequency_l1

    torch.manual_seed(0)
    y = torch.rand(2, 3, 32, 32) * 2 - 1
    m = torch.zeros(2, 1, 32, 32)
    m[..., 16:, :] = 1
    assert high_frequency_l1(y, y, m) == 0
    blurred_in = y * (1 - m) + _blur(y) * m
    blurred_out = y * m + _blur(y) * (1 - m)
    assert high_frequency_l1(blurred_in, y, m) > 0.1
    # blur outside the mask costs (almost) nothing: only the Laplacian's 1 px reach crosses the edge
    assert high_frequency_l1(blurred_out, y, m) < 0.1 * high_frequency_l1(blurred_in, y, m)
    assert high_frequency_l1(y, y, torch.zeros_like(m)) == 0  # empty masks: no NaN


def test_feature_matching_is_zero_for_real_and_pulls_toward_real() -> None:
    from maskaway_cli.train.losses import feature_matching

    torch.manual_seed(0)
    critic = Critic(CriticConfig(image_size=32, filters=(4, 4, 8, 8, 8), dropout=0.0)).eval()
    real, m = torch.rand(4, 3, 32, 32) * 2 - 1, torch.ones(4, 1, 32, 32)
    score, feats = critic.scores_and_features(real, m)
    assert torch.allclose(score, critic(real, m)) and len(feats) == len(critic.config.layer_filters())
    assert feature_matching(feats, feats) == 0
    fake = torch.zeros_like(real, requires_grad=True)
    _, fake_feats = critic.scores_and_features(fake, m)
    loss = feature_matching(fake_feats, feats)
    loss.backward()
    assert loss > 0 and fake.grad.abs().sum() > 0


def test_sharpness_ratio_is_one_for_the_truth_and_low_for_a_blur() -> None:
    from maskaway_cli.metrics.image import sharpness_ratio

    torch.manual_seed(0)
    truth = torch.rand(2, 3, 48, 48)
    m = torch.zeros(2, 1, 48, 48)
    m[..., 24:, 8:40] = 1
    assert torch.allclose(sharpness_ratio(truth, truth, m), torch.ones(2))
    blurred = truth * (1 - m) + _blur(truth) * m
    assert (sharpness_ratio(blurred, truth, m) < 0.2).all()
    assert torch.isnan(sharpness_ratio(truth, truth, torch.zeros_like(m))).all()


def test_tally_reports_the_median_of_the_sharpness_ratio() -> None:
    from maskaway_cli.evaluation.tally import MeanTally

    t = MeanTally()
    t.add(["a", "a", "b"], "pipeline", "mask_sharpness", [0.2, 0.5, 9.0])  # one runaway ratio
    t.add(["a", "a", "b"], "pipeline", "full_l1", [0.1, 0.2, 0.3])
    t.add(["a", "a", "b"], "pipeline", "mask_l1", [0.1, 0.2, 0.3])
    row = t.means(None)["pipeline"]
    assert row["mask_sharpness"] == 0.5 and row["full_l1"] == pytest.approx(0.2)
    assert t.means("a")["pipeline"]["mask_sharpness"] == pytest.approx(0.35)


def test_photo_sharpness_is_measured_at_half_size() -> None:
    import numpy as np

    from maskaway_cli.evaluation.measure import image_metrics

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    mask = np.zeros((1, 64, 64), bool)
    mask[:, 32:, 10:54] = True
    # pixel-level noise alone: at half size it averages away, so the two scales must differ
    noisy = np.clip(truth.astype(int) + rng.normal(0, 40, truth.shape), 0, 255).astype(np.uint8)
    full = image_metrics(noisy, truth, mask)["mask_sharpness"][0]
    half = image_metrics(noisy, truth, mask, sharpness_scale=0.5)["mask_sharpness"][0]
    assert full != pytest.approx(half, rel=0.01)
    assert image_metrics(truth, truth, mask, sharpness_scale=0.5)["mask_sharpness"][0] == pytest.approx(1.0)


def test_a_256_px_generator_trains_and_unmasks_beside_a_128_px_segmenter(tmp_path, monkeypatch) -> None:
    """256 px is for users with a GPU and data: the same command trains it and unmask runs it."""
    import numpy as np

    from maskaway_cli.data.toy import make_toy_dataset
    from maskaway_cli.train.config import GanConfig
    from maskaway_cli.train.gan import train_gan
    from maskaway_cli.unmask.pipeline import Unmasker
    from tests.unmask_helpers import make_weights

    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    ds = make_toy_dataset(tmp_path / "ds", n=12, size=256)
    res = train_gan(GanConfig(dataset=str(ds), run_dir=str(tmp_path / "run"), steps=2, batch_size=2,
                              base_channels=2, max_channels=8, critic_steps=1, critic_width=0.0625,
                              bottleneck=8, context=("dil2", "attn"), fm_weight=1.0, hf_weight=1.0, workers=1))
    assert res.status == "finished"
    seg = make_weights(tmp_path / "seg", size=128)["segmenter"]
    unmasker = Unmasker({"segmenter": seg, "generator": res.weights}, device="cpu")
    assert (unmasker.size, unmasker.seg_size, unmasker.gen_size) == (256, 128, 256)
    crop = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    given = np.zeros((256, 256), np.uint8)
    given[140:240, 60:200] = 255
    [out] = unmasker([crop], [given])
    assert out.result.shape == (256, 256, 3)
    np.testing.assert_array_equal(out.result[given == 0], crop[given == 0])
    assert not np.array_equal(out.result[given > 0], crop[given > 0])
