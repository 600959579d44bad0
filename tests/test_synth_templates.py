"""Built-in drawn templates and reading MaskTheFace-format template sets (masks.cfg + PNGs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from maskaway_cli.errors import TemplateError
from maskaway_cli.synth.templates import (
    MaskTemplate,
    TemplateSet,
    builtin_templates,
    load_masktheface,
    split_section,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BUILTIN_TYPES = {"surgical", "surgical_blue", "surgical_green", "N95", "KN95", "cloth", "gas"}


def test_builtin_set_has_every_type_in_three_variants():
    ts = builtin_templates()
    assert BUILTIN_TYPES <= set(ts.types())
    assert builtin_templates() is ts  # drawn once per process
    for mask_type in BUILTIN_TYPES:
        for variant in ("", "left", "right"):
            (t,) = ts.by_type[mask_type][variant]
            assert t.rgba.dtype == np.uint8 and t.rgba.ndim == 3 and t.rgba.shape[2] == 4
            assert t.anchors.shape == (6, 2) and t.anchors.dtype == np.float32
            assert t.source == "builtin" and t.variant == variant
            h, w = t.rgba.shape[:2]
            assert (t.anchors[:, 0] > -1).all() and (t.anchors[:, 0] < w + 1).all()
            assert (t.anchors[:, 1] > -1).all() and (t.anchors[:, 1] < h + 1).all()
            alpha = t.rgba[..., 3]
            assert (alpha == 0).mean() > 0.1 and (alpha == 255).mean() > 0.3
            # anti-aliased edges: some partial alpha, but only a thin rim of it
            assert 0 < ((alpha > 0) & (alpha < 255)).mean() < 0.05
            # shaded, not a flat blob: the opaque part has visible light/shadow variation
            luma = t.rgba[..., :3].astype(np.float32).mean(axis=2)[alpha == 255]
            assert luma.std() / luma.mean() > 0.04, (t.name, luma.std() / luma.mean())
            # the nose-bridge anchor sits on the mask, near its top
            bx, by = np.round(t.anchors[1]).astype(int)
            assert alpha[by + 3, bx] == 255


def test_builtin_turned_variants_squeeze_the_far_side():
    ts = builtin_templates()
    for mask_type in BUILTIN_TYPES:
        left, = ts.by_type[mask_type]["left"]
        right, = ts.by_type[mask_type]["right"]
        a, b, c = left.anchors[:3, 0]
        assert b - a < 0.9 * (c - b)  # nose to image-left: b close to the left edge, like MaskTheFace
        a, b, c = right.anchors[:3, 0]
        assert c - b < 0.9 * (b - a)


def test_builtin_colours_differ_by_type():
    ts = builtin_templates()

    def mean_rgb(name):
        t = ts.by_type[name][""][0]
        return t.rgba[..., :3][t.rgba[..., 3] == 255].mean(axis=0)

    blue, green, white = mean_rgb("surgical_blue"), mean_rgb("surgical_green"), mean_rgb("surgical")
    assert blue[2] > blue[0] + 40 and green[1] > green[0] + 30 and white.min() > 170


def test_split_section():
    assert split_section("surgical_blue_left") == ("surgical_blue", "left")
    assert split_section("N95_right") == ("N95", "right")
    assert split_section("cloth") == ("cloth", "")
    assert split_section("_left") == ("_left", "")


def _png(path: Path, width: int = 40, height: int = 30, colour=(200, 10, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[5:-5, 5:-5] = (*colour, 255)
    Image.fromarray(rgba).save(path)


CFG = """\
[surgical]
template:   masks/templates/surgical.png
mask_a:     5, 6
mask_b:     20, 2
mask_c:     35, 6
mask_d:     5, 24
mask_e:     20, 28
mask_f:     35, 24

;[surgical_left]
;template:   masks/nothing_here.png
;mask_a:     1, 1

[surgical_right]
template:   masks/templates/surgical_right.png
mask_c:     38, 5
mask_b:     30, 1
mask_a:     -4, 6
mask_f:     36, 25
mask_e:     28, 29
mask_d:     -3.5, 22

[empty]
[empty_left]

[inpaint]
[inpaint_right]
"""


def _make_set(folder: Path, cfg: str = CFG) -> Path:
    _png(folder / "templates" / "surgical.png")
    _png(folder / "templates" / "surgical_right.png", colour=(10, 200, 10))
    (folder / "masks.cfg").write_text(cfg, encoding="utf-8")
    return folder


def test_load_masktheface_reads_a_small_set(tmp_path):
    ts = load_masktheface(_make_set(tmp_path))
    assert ts.types() == ["surgical"]
    assert set(ts.by_type["surgical"]) == {"", "right"}  # commented [surgical_left] ignored
    (front,) = ts.by_type["surgical"][""]
    (turned,) = ts.by_type["surgical"]["right"]
    assert front.name == "mtf/surgical" and turned.name == "mtf/surgical_right"
    assert front.source == str(tmp_path / "masks.cfg")
    np.testing.assert_allclose(front.anchors, [[5, 6], [20, 2], [35, 6], [5, 24], [20, 28], [35, 24]])
    # keys in any order land in a..f order; negative coordinates kept
    np.testing.assert_allclose(turned.anchors, [[-4, 6], [30, 1], [38, 5], [-3.5, 22], [28, 29], [36, 25]])
    assert front.rgba.shape == (30, 40, 4) and tuple(front.rgba[15, 20]) == (200, 10, 10, 255)
    assert tuple(turned.rgba[15, 20]) == (10, 200, 10, 255)


def test_template_path_resolution_prefers_the_cfg_folder(tmp_path):
    _make_set(tmp_path)
    _png(tmp_path / "masks" / "templates" / "surgical.png", colour=(1, 2, 3))  # exact relative path wins
    ts = load_masktheface(tmp_path)
    assert tuple(ts.by_type["surgical"][""][0].rgba[15, 20]) == (1, 2, 3, 255)


@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda s: s.replace("mask_e:     20, 28\n", ""), "missing mask_e"),
        (lambda s: s.replace("mask_b:     20, 2", "mask_b:     twenty, 2"), "mask_b"),
        (lambda s: s.replace("mask_b:     20, 2", "mask_b:     20"), "mask_b"),
        (lambda s: "mask_a: 1, 2\n" + s, "malformed"),
        (lambda s: s.replace("templates/surgical.png", "templates/nope.png"), "not found"),
        (lambda s: s.replace("[empty]", "[surgical]"), "malformed"),  # duplicate section
        (lambda s: "[empty]\n[inpaint]\n", "no mask templates"),
        (lambda s: s.replace("mask_d:     5, 24", "mask_d:     5, 6")
         .replace("mask_f:     35, 24", "mask_f:     35, 6"), "no area"),
    ],
)
def test_malformed_sets_raise_template_error(tmp_path, edit, needle):
    _make_set(tmp_path, edit(CFG))
    with pytest.raises(TemplateError, match=needle) as info:
        load_masktheface(tmp_path)
    assert "\n" not in str(info.value)


def test_missing_cfg_and_broken_png(tmp_path):
    with pytest.raises(TemplateError, match="no masks.cfg"):
        load_masktheface(tmp_path)
    _make_set(tmp_path)
    (tmp_path / "templates" / "surgical.png").write_bytes(b"not a png at all")
    with pytest.raises(TemplateError, match="cannot read"):
        load_masktheface(tmp_path)


def _tpl(name: str, mask_type: str, variant: str) -> MaskTemplate:
    return MaskTemplate(name, mask_type, variant, np.zeros((2, 2, 4), np.uint8), np.zeros((6, 2), np.float32), "t")


def test_choose_falls_back_and_merge_pools():
    one = TemplateSet.of([_tpl("x", "cloth", ""), _tpl("x_left", "cloth", "left")])
    two = TemplateSet.of([_tpl("y", "cloth", ""), _tpl("z_right", "gas", "right")])
    rng = np.random.default_rng(0)
    assert one.choose("cloth", "left", rng).name == "x_left"
    assert one.choose("cloth", "right", rng).name == "x"  # no right variant: the frontal one
    assert two.choose("gas", "", rng).name == "z_right"  # only a turned one exists
    merged = one.merge(two)
    assert merged.types() == ["cloth", "gas"]
    assert {merged.choose("cloth", "", np.random.default_rng(s)).name for s in range(20)} == {"x", "y"}
    with pytest.raises(TemplateError, match="no templates"):
        one.choose("N95", "", rng)


@pytest.mark.skipif(not (SHARED / "masktheface" / "masks.cfg").is_file(), reason="needs ../shared/masktheface")
def test_masktheface_own_set():
    ts = load_masktheface(SHARED / "masktheface")
    assert set(ts.types()) == BUILTIN_TYPES
    assert len(ts.all()) == 21
    for mask_type in BUILTIN_TYPES:
        assert set(ts.by_type[mask_type]) == {"", "left", "right"}
    (gas_right,) = ts.by_type["gas"]["right"]
    np.testing.assert_allclose(gas_right.anchors[0], [-105, 239])  # listed third, negative x
    (n95_left,) = ts.by_type["N95"]["left"]
    np.testing.assert_allclose(n95_left.anchors[1], [366, 172])  # the uncommented section, not ;[N95_left]
    assert n95_left.rgba.shape == (1126, 1172, 4)
    # MaskTheFace's 'left' convention matches ours: nose-bridge anchor near the left edge
    a, b, c = ts.by_type["surgical"]["left"][0].anchors[:3, 0]
    assert b - a < c - b
