"""Calibrate a segmenter on a held-out split and store the result in its weights' metadata.

    python scripts/calibrate_segmenter.py runs/seg128 datasets/utk128 [--split val] [--max-bare 0.01]

Four settings of the pipeline are chosen on the split, in this order:
1. the probability threshold and the growth of the painted region (``clean_mask``). Among the
   candidates, the one with the best IoU whose leftover (true mask pixels left unpainted) is under 1%,
   or else the one with the least leftover;
2. ``min_mask_fraction``: a face is unmasked only when its cleaned mask covers at least this share of
   the crop. It is the smallest value that paints at most ``--max-bare`` of the faces without a mask
   (``mask_type`` ``none``, from ``generate --bare``), or ``--min-mask-fraction`` when given (with a
   presence model deciding which faces wear a mask, the segmenter's own guess matters less);
3. ``min_confidence``: a face is unmasked only when the mean probability inside its mask is at least
   the 1st percentile of that over the masked faces (rounded down to 0.05). Less sure masks are left
   unpainted and reported.
4. with ``--labelled DIR`` (real photos with labelled faces, ``annotations.jsonl``; only the training
   half, as for the presence model): ``min_confidence_with_presence``, how sure the segmenter must be
   to paint a face on its own when a presence model says no - the lowest value (from
   ``min_confidence``, by 0.05) at which at most ``--max-real-unmasked`` of the real unmasked faces
   would be painted. Real unmasked faces fool a segmenter trained on synthetic masks more than its
   own mask-free crops do.
The unmasker reads these back as its defaults (``calibration`` in the segmenter's metadata). The script
prints IoU and leftover per mask family at the chosen setting, for the model card.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

DARK = {"black", "navy", "#1c1c1e", "#3a3a3c", "#1e2a5a", "#2b2b2b"}  # the dark colours ``generate`` draws
THRESHOLDS = (0.3, 0.4, 0.5)
GROWTHS = (0.015, 0.025, 0.035)
LEFTOVER_GOAL = 0.01


def probabilities(unmasker, samples, size: int):
    """(probs (N,S,S), truth (N,S,S) bool, families) for ``samples`` at the segmenter's crop size."""
    from maskaway_cli.evaluation.samples import load_batch

    probs, truth, families, ids = [], [], [], []
    for lo in range(0, len(samples), 64):
        batch = load_batch(samples[lo : lo + 64], size)
        probs.append(unmasker.probabilities(list(batch.masked)))
        truth.append(batch.truth)
        families += list(batch.types)
        ids += list(batch.ids)
    return np.concatenate(probs), np.concatenate(truth), families, ids


def appearance_groups(dataset: Path, ids: list[str]) -> list[list[str]]:
    """Per sample, the appearance groups it belongs to (from the manifest): gaiter, valve, worn low,
    dark, printed, degraded / clean, and look-alike for a mask-free face given a scarf or microphone."""
    docs = {}
    manifest = dataset / "manifest.jsonl"
    if manifest.is_file():
        for line in manifest.read_text().splitlines():
            doc = json.loads(line)
            docs[str(doc["id"])] = doc
    out = []
    for i in ids:
        d = docs.get(i, {})
        if d.get("mask_type") in (None, "none"):
            out.append([f"look-alike ({d['lookalike']})"] if d.get("lookalike") else [])
            continue
        groups = [name for name, on in (("gaiter", d.get("gaiter")), ("valve", d.get("valve")),
                                        ("worn low", d.get("worn_low")), ("printed", d.get("texture")),
                                        ("dark", str(d.get("color")).lower() in DARK)) if on]
        out.append(groups + ["degraded" if d.get("degraded") else "clean"])
    return out


def beside_presence(unmasker, folder: Path, *, threshold: float, grow: float, min_fraction: float, start: float,
                    budget: float) -> dict:
    """Step 4: the segmenter's own confidence that paints at most ``budget`` of the real unmasked faces."""
    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.train.presence import labelled_faces
    from maskaway_cli.unmask.pipeline import clean_mask

    faces = labelled_faces(folder, make_detector(DetectorConfig(min_face=16)), align_size=unmasker.size,
                           side=unmasker.size)
    crops = faces.crops[faces.labels == 0]
    probs = unmasker.probabilities(list(crops))
    masks = [clean_mask(p, threshold, grow=grow) for p in probs]
    conf = np.array([float(p[m].mean()) if m.mean() >= min_fraction else 0.0 for p, m in zip(probs, masks)])
    t = start
    while t < 0.99 and np.mean(conf >= t) > budget:
        t = round(t + 0.05, 2)
    return {"min_confidence_with_presence": t, "real_unmasked": int(len(conf)),
            "real_unmasked_painted": float(np.mean(conf >= t))}


def scores(cleaned: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(IoU, leftover), micro-averaged over the masked faces."""
    tp = float((cleaned & truth).sum())
    fp, fn = float((cleaned & ~truth).sum()), float((~cleaned & truth).sum())
    return tp / max(tp + fp + fn, 1.0), fn / max(tp + fn, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, help="run folder or segmenter .safetensors")
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="val")
    parser.add_argument("--max-bare", type=float, default=0.01, help="share of mask-free faces that may be painted")
    parser.add_argument("--labelled", type=Path, help="real photos with annotations.jsonl (step 4)")
    parser.add_argument("--max-real-unmasked", type=float, default=0.02)
    parser.add_argument("--min-mask-fraction", type=float, default=None,
                        help="fix it instead of calibrating it (with the presence model deciding which faces wear a "
                             "mask, 0.01: it then only drops specks)")
    args = parser.parse_args()
    from dataclasses import replace

    from safetensors.torch import load_file

    from maskaway_cli.data.layout import read_dataset
    from maskaway_cli.evaluation.samples import select
    from maskaway_cli.unmask.pipeline import Unmasker, clean_mask, resolve_weights
    from maskaway_cli.weights_io import read_meta, save_weights

    path = args.weights / "weights.safetensors" if args.weights.is_dir() else args.weights
    unmasker = Unmasker(resolve_weights((str(path),)), device="cpu")
    index = read_dataset(args.dataset)
    samples = select(index, index.split(args.split), limit=None)
    probs, truth, families, ids = probabilities(unmasker, samples, unmasker.seg_size)
    bare = np.array([f == "none" for f in families])
    print(f"{len(samples)} {args.split} faces, {int(bare.sum())} without a mask")

    # 1. threshold and growth, on the masked faces
    best = None
    for t in THRESHOLDS:
        for g in GROWTHS:
            cleaned = np.stack([clean_mask(p, t, grow=g) for p in probs[~bare]])
            iou, left = scores(cleaned, truth[~bare])
            print(f"  threshold {t:.2f} grow {g:.3f}: IoU {iou:.4f} leftover {left:.2%}")
            key = (left <= LEFTOVER_GOAL, iou if left <= LEFTOVER_GOAL else -left)
            if best is None or key > best[0]:
                best = (key, t, g)
    _, threshold, grow = best
    cleaned = np.stack([clean_mask(p, threshold, grow=grow) for p in probs])
    fraction = cleaned.reshape(len(cleaned), -1).mean(axis=1)

    # 2. the smallest mask that counts as a mask
    bare_fr = np.sort(fraction[bare])
    min_fraction = float(bare_fr[int(np.ceil((1 - args.max_bare) * len(bare_fr))) - 1]) + 1e-4 if len(bare_fr) else 0.03
    min_fraction = max(min_fraction, 0.01) if args.min_mask_fraction is None else args.min_mask_fraction
    # 3. the least sure a mask may be: the 1st percentile over the masked faces, rounded down to 0.05
    conf = np.array([float(p[m].mean()) if m.any() else 0.0 for p, m in zip(probs, cleaned)])
    min_conf = float(np.floor(np.percentile(conf[~bare], 1) * 20) / 20)
    painted = (fraction >= min_fraction) & (conf >= min_conf)
    kept = float(painted[~bare].mean())
    painted_bare = float(painted[bare].mean()) if bare.any() else float("nan")
    print(f"chosen: threshold {threshold}, grow {grow}, min_mask_fraction {min_fraction:.4f}, min_confidence "
          f"{min_conf:.2f}: masked faces "
          f"unmasked {kept:.2%}, faces without a mask painted {painted_bare:.2%}")

    # per family, at the chosen setting (faces left alone count as painting nothing)
    paint = cleaned & painted[:, None, None]
    by_family = defaultdict(list)
    for i, f in enumerate(families):
        by_family[f].append(i)
    table = {}
    for family, idx in sorted(by_family.items()):
        if family == "none":
            table[family] = {"faces": len(idx), "painted": float(painted[idx].mean())}
        else:
            iou, left = scores(paint[idx], truth[idx])
            table[family] = {"faces": len(idx), "iou": iou, "leftover": left}
        print(f"  {family}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in table[family].items()))

    looks = appearance_groups(args.dataset, ids)
    by_look = defaultdict(list)
    for i, groups in enumerate(looks):
        for g in groups:
            by_look[g].append(i)
    for group, idx in sorted(by_look.items()):
        if group.startswith("look-alike"):
            table[group] = {"faces": len(idx), "painted": float(painted[idx].mean()),
                            "mean_fraction": float(fraction[idx].mean())}
        else:
            iou, left = scores(paint[idx], truth[idx])
            table[group] = {"faces": len(idx), "iou": iou, "leftover": left}
        print(f"  {group}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in table[group].items()))

    extra = {}
    if args.labelled:
        extra = beside_presence(unmasker, args.labelled, threshold=threshold, grow=grow, min_fraction=min_fraction,
                                start=min_conf, budget=args.max_real_unmasked)
        print(f"beside a presence model: {json.dumps(extra)}")

    # 5. into the weights' metadata
    meta = read_meta(path)
    calibration = {"threshold": threshold, "grow": grow, "min_mask_fraction": round(min_fraction, 4),
                   "min_confidence": min_conf, **extra,
                   "split": f"{args.dataset.name}/{args.split}", "masked_unmasked": kept,
                   "bare_painted": painted_bare, "families": table}
    save_weights(path, load_file(str(path)), replace(meta, info={**meta.info, "calibration": calibration}))
    print(json.dumps({k: v for k, v in calibration.items() if k != "families"}))


if __name__ == "__main__":
    main()
