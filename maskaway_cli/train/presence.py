"""Training the mask-presence classifier (``models/presence.py``) on real and synthetic faces.

Data, every face aligned exactly as ``unmask`` aligns it (detector → 68 landmarks → template):
- labelled photos: a folder with ``annotations.jsonl`` (one photo per line: ``file``, ``faces`` with
  ``box`` and ``label`` in ``with_mask`` / ``without_mask`` / ``mask_worn_incorrectly``), each label
  matched to the detection of highest IoU (>= 0.3). A mask worn under the nose is still a mask to remove.
- photos of masked people (one face each, the largest): all positives.
- a ``maskaway generate`` dataset: its masked crops, positive unless the manifest says ``none``.

Photos are split in two by a hash of their name: the even half is for training, the odd half is held out
(``benchmarks/bench_realphotos.py`` measures on it). ``all_photos=True`` takes both halves, for a user's own
labelled photos or a model trained once a recipe is chosen. The threshold comes from out-of-fold scores
either way, so it is set on faces the scoring model never saw.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskaway_cli.models.presence import PresenceConfig

LABELS = {"with_mask": 1, "mask_worn_incorrectly": 1, "without_mask": 0}
MATCH_IOU = 0.3


def held_out(name: str) -> bool:
    """The odd half by a hash of the file name: never trained on (the same split the benchmarks use)."""
    return zlib.crc32(Path(name).name.encode()) % 2 == 1


def seen_every_photo(weights: dict[str, Path]) -> bool:
    """Whether the presence model among ``weights`` was trained on both halves of the real photos (then the
    benchmarks' "held-out" figures are not held out for it)."""
    from maskaway_cli.weights_io import read_meta

    path = weights.get("presence")
    return path is not None and read_meta(path).info.get("train", {}).get("photos") == "all"


@dataclass(frozen=True)
class PresenceTrainConfig:
    model: PresenceConfig = PresenceConfig()
    steps: int = 1500
    batch_size: int = 64
    synthetic_per_batch: int = 16  # of each batch; the rest are real faces, class-balanced
    lr: float = 2e-3
    weight_decay: float = 1e-3
    seed: int = 0
    folds: int = 4  # out-of-fold scores for the threshold
    max_false_positive: float = 0.02  # share of real unmasked faces the calibrated threshold lets through
    probe_steps: int = 300  # Adam steps of the segmenter probe's logistic regression (full batch)
    probe_lr: float = 1e-2
    probe_l2: float = 1e-3  # ridge on its weights: ~1,000 faces, ~1,000 features


@dataclass
class Faces:
    """Aligned faces (N,S,S,3) uint8, labels (N,) 1 = masked, and the photo each came from."""

    crops: np.ndarray
    labels: np.ndarray
    groups: list[str]

    @staticmethod
    def join(parts: list["Faces"]) -> "Faces":
        parts = [p for p in parts if len(p.labels)]
        if not parts:
            return Faces(np.zeros((0, 64, 64, 3), np.uint8), np.zeros(0, np.int64), [])
        return Faces(np.concatenate([p.crops for p in parts]), np.concatenate([p.labels for p in parts]),
                     [g for p in parts for g in p.groups])


def small(crop: np.ndarray, side: int) -> np.ndarray:
    import cv2

    return crop if crop.shape[0] == side else cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)


def labelled_faces(folder: Path, detect, *, align_size: int, side: int = 64, min_size: int = 16,
                   all_photos: bool = False) -> Faces:
    """The labelled faces of ``folder/annotations.jsonl`` that the detector finds: of the training half,
    or of every photo with ``all_photos``."""
    from maskaway_cli.faces.detect import box_iou
    from maskaway_cli.imageio import load_rgb
    from maskaway_cli.unmask.pipeline import aligned_faces

    crops, labels, groups = [], [], []
    for line in (folder / "annotations.jsonl").read_text().splitlines():
        row = json.loads(line)
        if held_out(row["file"]) and not all_photos:
            continue
        found = aligned_faces(load_rgb(folder / row["file"]), detect, align_size)
        for face in row["faces"]:
            x0, y0, x1, y1 = face["box"]
            if face["label"] not in LABELS or min(x1 - x0, y1 - y0) < min_size or not found:
                continue
            f, a = max(found, key=lambda fa: box_iou(fa[0].box, face["box"]))
            if box_iou(f.box, face["box"]) >= MATCH_IOU:
                crops.append(small(a.crop, side))
                labels.append(LABELS[face["label"]])
                groups.append(row["file"])
    return Faces(np.array(crops, np.uint8).reshape(-1, side, side, 3), np.array(labels, np.int64), groups)


def masked_photos(folder: Path, detect, *, align_size: int, side: int = 64, all_photos: bool = False) -> Faces:
    """The largest face of every photo of ``folder`` (all of masked people): of the training half, or of
    every photo with ``all_photos``."""
    from maskaway_cli.data.sources import IMAGE_SUFFIXES
    from maskaway_cli.imageio import load_rgb
    from maskaway_cli.unmask.pipeline import aligned_faces

    crops, groups = [], []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        if held_out(path.name) and not all_photos:
            continue
        found = aligned_faces(load_rgb(path), detect, align_size)
        if found:
            _, a = max(found, key=lambda fa: fa[0].box[2] - fa[0].box[0])
            crops.append(small(a.crop, side))
            groups.append(path.name)
    return Faces(np.array(crops, np.uint8).reshape(-1, side, side, 3), np.ones(len(crops), np.int64), groups)


def synthetic_faces(dataset: Path, *, limit: int, seed: int, side: int = 64) -> Faces:
    """Up to ``limit`` crops of a ``generate`` dataset's train split, with or without a mask."""
    from maskaway_cli.imageio import load_rgb

    rows = [json.loads(line) for line in (dataset / "manifest.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r.get("split", "train") == "train"]
    pick = np.random.default_rng(seed).permutation(len(rows))[:limit]
    crops = [small(load_rgb(dataset / "masked" / f"{rows[i]['id']}.png"), side) for i in pick]
    labels = [int(rows[i].get("mask_type") not in (None, "none")) for i in pick]
    return Faces(np.array(crops, np.uint8).reshape(-1, side, side, 3), np.array(labels, np.int64),
                 [rows[i]["source"] for i in pick])


# ---- training --------------------------------------------------------------------------------------
def _tensor(crops: np.ndarray):
    import torch

    return torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255  # (N,3,S,S)


def _augment(x, rng: np.random.Generator):
    """Flips, brightness/contrast, and a down-and-up rescale: the small blurred faces of street photos."""
    import torch
    import torch.nn.functional as F

    n, side = len(x), x.shape[-1]
    x = torch.where(torch.rand(n, 1, 1, 1) < 0.5, x.flip(3), x)
    x = (x - 0.5) * (0.7 + 0.6 * torch.rand(n, 1, 1, 1)) + 0.5 + 0.2 * (torch.rand(n, 1, 1, 1) - 0.5)
    small = int(rng.integers(16, side + 1))
    x = F.interpolate(F.interpolate(x, size=small, mode="area"), size=side, mode="bilinear", align_corners=False)
    return x.clamp(0, 1)


def train_classifier(real: Faces, synthetic: Faces, cfg: PresenceTrainConfig):
    """Adam(W) on BCE: each batch holds real faces weighted so both classes count alike, and synthetic ones."""
    import torch
    import torch.nn.functional as F

    from maskaway_cli.models.presence import PresenceNet

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = PresenceNet(cfg.model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps)
    xr, yr = _tensor(real.crops), torch.from_numpy(real.labels).float()
    xs, ys = _tensor(synthetic.crops), torch.from_numpy(synthetic.labels).float()
    pos = float(yr.mean()) if len(yr) else 0.5
    if not 0.0 < pos < 1.0:
        raise ValueError("the real faces need both masked and unmasked ones")
    class_weight = torch.where(yr > 0, 0.5 / pos, 0.5 / (1 - pos))
    n_syn = cfg.synthetic_per_batch if len(ys) else 0
    model.train()
    for _ in range(cfg.steps):
        ir = torch.randint(len(yr), (cfg.batch_size - n_syn,))
        isyn = torch.randint(max(len(ys), 1), (n_syn,))
        x = _augment(torch.cat([xr[ir], xs[isyn]]), rng)  # (B,3,S,S)
        y = torch.cat([yr[ir], ys[isyn]])
        w = torch.cat([class_weight[ir], torch.ones(n_syn)])
        loss = (F.binary_cross_entropy_with_logits(model(x), y, reduction="none") * w).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


def scores(model, crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """P(mask) for (N,S,S,3) uint8 crops."""
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(crops), batch):
            out.append(model.probability(_tensor(crops[start : start + batch])).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _folds(groups: list[str], folds: int) -> np.ndarray:
    """The fold of each face, by its photo: faces of one photo are never split."""
    return np.array([zlib.crc32(g.encode()) // 2 % folds for g in groups], np.int64)


def out_of_fold_scores(real: Faces, synthetic: Faces, cfg: PresenceTrainConfig) -> np.ndarray:
    """Each real face scored by a model trained without its photo (``cfg.folds`` folds by photo)."""
    fold = _folds(real.groups, cfg.folds)
    oof = np.zeros(len(real.labels), np.float32)
    for k in range(cfg.folds):
        rest = fold != k
        model = train_classifier(Faces(real.crops[rest], real.labels[rest], []), synthetic, cfg)
        oof[~rest] = scores(model, real.crops[~rest])
    return oof


# ---- the segmenter probe ---------------------------------------------------------------------------
def fit_probe(summaries: np.ndarray, labels: np.ndarray, cfg: PresenceTrainConfig):
    """A ridge-penalised logistic regression on (N,F) segmenter summaries, both classes weighted alike."""
    import torch
    import torch.nn.functional as F

    from maskaway_cli.models.presence import SegmenterProbe

    torch.manual_seed(cfg.seed)
    x, y = torch.from_numpy(summaries).float(), torch.from_numpy(labels).float()  # (N,F), (N,)
    pos = float(y.mean())
    if not 0.0 < pos < 1.0:
        raise ValueError("the real faces need both masked and unmasked ones")
    probe = SegmenterProbe(x.shape[1])
    probe.mean.copy_(x.mean(0))
    probe.scale.copy_(x.std(0) + 1e-6)
    class_weight = torch.where(y > 0, 0.5 / pos, 0.5 / (1 - pos))
    opt = torch.optim.Adam(probe.linear.parameters(), lr=cfg.probe_lr)
    for _ in range(cfg.probe_steps):
        loss = (F.binary_cross_entropy_with_logits(probe(x), y, reduction="none") * class_weight).mean()
        loss = loss + cfg.probe_l2 * probe.linear.weight.square().sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return probe.eval()


def probe_logits(probe, summaries: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return probe(torch.from_numpy(summaries).float()).numpy()  # (N,)


def out_of_fold_probe(summaries: np.ndarray, real: Faces, cfg: PresenceTrainConfig) -> np.ndarray:
    """Each real face's probe logit from a probe fitted without its photo (the same folds as the CNN's)."""
    fold = _folds(real.groups, cfg.folds)
    oof = np.zeros(len(real.labels), np.float32)
    for k in range(cfg.folds):
        rest = fold != k
        oof[~rest] = probe_logits(fit_probe(summaries[rest], real.labels[rest], cfg), summaries[~rest])
    return oof


def combined_scores(probability: np.ndarray, probe_logit: np.ndarray, *, weight: float) -> np.ndarray:
    """``models.presence.combine`` on arrays: what ``unmask`` computes from the two opinions."""
    import torch

    from maskaway_cli.models.presence import combine

    return combine(torch.from_numpy(probability), torch.from_numpy(probe_logit), weight=weight).numpy()


def calibrate(oof: np.ndarray, labels: np.ndarray, *, max_false_positive: float) -> dict:
    """The lowest threshold (to 0.01) at which at most ``max_false_positive`` of the unmasked faces score
    at or above it, and what it does on these faces."""
    neg, pos = oof[labels == 0], oof[labels == 1]
    for t in np.round(np.arange(0.05, 1.0, 0.01), 2):
        if np.mean(neg >= t) <= max_false_positive:
            break
    return {"threshold": float(t), "masked_found": float(np.mean(pos >= t)),
            "unmasked_flagged": float(np.mean(neg >= t)), "masked": int(len(pos)), "unmasked": int(len(neg))}


def attach_probe(cnn, summaries: np.ndarray, real: Faces, oof: np.ndarray, calibration: dict, *,
                 cfg: PresenceTrainConfig, segmenter: str):
    """The CNN with a probe fitted on all ``real`` faces' (N,F) ``summaries``; the calibration of the
    combined score, set on out-of-fold scores (``oof`` are the CNN's), with the CNN's own threshold kept as
    ``threshold_alone`` and the ``segmenter``'s fingerprint; and the out-of-fold combined scores."""
    from dataclasses import replace

    from maskaway_cli.models.presence import PresenceNet

    combined = combined_scores(oof, out_of_fold_probe(summaries, real, cfg), weight=cfg.model.probe_weight)
    together = calibrate(combined, real.labels, max_false_positive=cfg.max_false_positive)
    calibration = {**together, "threshold_alone": calibration["threshold"],
                   "masked_found_alone": calibration["masked_found"], "segmenter": segmenter}
    model = PresenceNet(replace(cnn.config, probe_features=summaries.shape[1]))
    model.load_state_dict(cnn.state_dict(), strict=False)  # the CNN's weights; the probe's come next
    model.probe.load_state_dict(fit_probe(summaries, real.labels, cfg).state_dict())
    return model.eval(), calibration, combined
