"""Model shapes at 64/128/256 px, the bit-exact composite, and weights export/load."""

from __future__ import annotations

import pytest
import torch

from maskaway_cli.errors import WeightsError
from maskaway_cli.models import Critic, CriticConfig, Generator, Segmenter, UNetConfig, inpaint
from maskaway_cli.weights_io import WeightsMeta, load_model, read_meta, save_weights


@pytest.mark.parametrize("size,depth", [(64, 4), (128, 5), (256, 6)])
def test_shapes_adapt_to_size(size: int, depth: int) -> None:
    seg_cfg = UNetConfig.for_size(size, in_channels=3, out_channels=1, base_channels=2, max_channels=8)
    assert seg_cfg.depth == depth
    x = torch.rand(2, 3, size, size)
    m = (torch.rand(2, 1, size, size) > 0.5).float()
    assert Segmenter(seg_cfg)(x).shape == (2, 1, size, size)
    gen = Generator(UNetConfig.for_size(size, in_channels=4, out_channels=3, base_channels=2, max_channels=8))
    y = gen(x * 2 - 1, m)
    assert y.shape == (2, 3, size, size) and y.min() >= -1 and y.max() <= 1
    critic = Critic(CriticConfig(image_size=size, filters=(2, 2, 4, 4, 8)))
    assert critic(y, m).shape == (2,)
    # the critic's last map is 2x2 at every size: 5 layers at 64, one more per doubling
    assert len(critic.config.layer_filters()) == 5 + depth - 4


def test_default_critic_filters_follow_the_method() -> None:
    c = Critic(CriticConfig(image_size=64))
    convs = [m for m in c.features if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 64, 128, 256, 512]
    assert all(m.kernel_size == (4, 4) and m.stride == (2, 2) for m in convs)
    assert sum(isinstance(m, torch.nn.Dropout) for m in c.features) == 2
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in c.modules())


def test_bad_sizes_and_missing_mask_are_errors() -> None:
    with pytest.raises(ValueError):
        UNetConfig.for_size(100, in_channels=3, out_channels=1)
    critic = Critic(CriticConfig(image_size=64, filters=(2, 2, 2, 2, 2)))
    with pytest.raises(ValueError):
        critic(torch.zeros(1, 3, 64, 64))


def test_composite_keeps_unmasked_pixels_bit_exact() -> None:
    torch.manual_seed(0)
    gen = Generator(UNetConfig.for_size(64, in_channels=4, out_channels=3, base_channels=2))
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    m = (torch.rand(3, 1, 64, 64) > 0.6).float()
    out, raw = gen(x, m, return_raw=True)
    keep = (m == 0).expand_as(x)
    assert torch.equal(out[keep], x[keep])
    hole = (m == 1).expand_as(x)
    assert torch.equal(out[hole], raw[hole])
    assert not torch.equal(out[hole], x[hole])
    # the [0,1] helper keeps them exact too
    img = torch.rand(3, 3, 64, 64)
    filled = inpaint(gen.eval(), img, m)
    assert torch.allclose(filled[keep], img[keep], atol=1e-6)


def test_weights_round_trip_and_metadata(tmp_path) -> None:
    cfg = UNetConfig.for_size(64, in_channels=4, out_channels=3, base_channels=2)
    gen = Generator(cfg).eval()
    path = save_weights(tmp_path / "w.safetensors", gen.state_dict(),
                        WeightsMeta(kind="generator", arch=cfg.to_dict(), image_size=64, info={"step": 7}))
    meta = read_meta(path)
    assert (meta.kind, meta.image_size, meta.arch, meta.info["step"]) == ("generator", 64, cfg.to_dict(), 7)
    model, _ = load_model(path)
    x, m = torch.rand(1, 3, 64, 64) * 2 - 1, torch.ones(1, 1, 64, 64)
    assert torch.equal(model(x, m), gen(x, m))
    with pytest.raises(WeightsError, match="expected a segmenter"):
        load_model(path, kind="segmenter")


def test_bad_weights_files_are_clear_errors(tmp_path) -> None:
    from safetensors.torch import save_file

    with pytest.raises(WeightsError, match="not found"):
        read_meta(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(WeightsError, match="not a safetensors"):
        read_meta(tmp_path / "junk.safetensors")
    save_file({"a": torch.zeros(1)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(WeightsError, match="no MaskAway metadata"):
        read_meta(tmp_path / "plain.safetensors")
    cfg = UNetConfig.for_size(64, in_channels=3, out_channels=1, base_channels=2)
    save_weights(tmp_path / "bad.safetensors", {"a": torch.zeros(1)},
                 WeightsMeta(kind="segmenter", arch=cfg.to_dict(), image_size=64))
    with pytest.raises(WeightsError, match="do not match"):
        load_model(tmp_path / "bad.safetensors")
