"""Train the mask-presence classifier that decides, per face, whether ``unmask`` paints it.

    python scripts/train_presence.py -o runs/presence --labelled ../shared/faces/maskdet \
        --masked ../shared/faces/realmask --synthetic datasets/utk128f [--synthetic-faces 6000]

Only the even half of the real photos (by a hash of the name) is used; the odd half is what
``benchmarks/bench_realphotos.py`` measures on. With ``--all-photos`` both halves are used (for your own
labelled photos; the bundled model keeps the odd half held out); the benchmarks' real figures for such a
model are no longer held out, and they say so. The threshold, set on out-of-fold scores so
that at most 2% of the real unmasked faces pass it, is stored in the weights' metadata; then one model is
trained on all of those faces and written to ``OUT/weights.safetensors`` (bundle it with
``scripts/bundle_weights.py OUT``).

With ``--segmenter`` (a weights file or run folder, as ``--weights`` takes them) a linear probe on that
segmenter's pooled encoder activations is fitted on the same real faces and stored beside the CNN; the
threshold is then set on the out-of-fold combined score, and the CNN's own threshold is kept for use with
any other segmenter. ``unmask`` uses the probe only with that segmenter.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--labelled", type=Path, action="append", default=[], help="folder with annotations.jsonl")
    parser.add_argument("--masked", type=Path, action="append", default=[], help="folder of photos of masked people")
    parser.add_argument("--synthetic", type=Path, help="a maskaway generate dataset")
    parser.add_argument("--synthetic-faces", type=int, default=6000)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--widths", default="24,48,96,160", help="filters per level (comma-separated)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--all-photos", action="store_true", help="train on both halves of the real photos")
    parser.add_argument("--segmenter", help="fit a probe on this segmenter's encoder too (weights file or run)")
    args = parser.parse_args()

    import numpy as np

    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.models.presence import PresenceConfig
    from maskaway_cli.train import presence as P
    from maskaway_cli.weights_io import WeightsMeta, save_weights

    start = time.perf_counter()
    widths = tuple(int(w) for w in args.widths.split(","))
    cfg = P.PresenceTrainConfig(model=PresenceConfig(widths=widths), steps=args.steps, seed=args.seed)
    detect = make_detector(DetectorConfig(min_face=16))
    side = 128 if args.segmenter else 64  # the probe reads the segmenter at its own size
    real = P.Faces.join([P.labelled_faces(f, detect, align_size=128, side=side, all_photos=args.all_photos)
                         for f in args.labelled]
                        + [P.masked_photos(f, detect, align_size=128, side=side, all_photos=args.all_photos)
                           for f in args.masked])
    synthetic = (P.synthetic_faces(args.synthetic, limit=args.synthetic_faces, seed=args.seed)
                 if args.synthetic else P.Faces.join([]))
    print(f"real faces {len(real.labels)} ({real.labels.mean():.1%} masked), synthetic {len(synthetic.labels)}"
          f" ({time.perf_counter() - start:.0f} s)", flush=True)
    summaries, seg_id = _summaries(args.segmenter, real.crops) if args.segmenter else (None, None)
    real = P.Faces(np.stack([P.small(c, 64) for c in real.crops]) if len(real.labels) else real.crops,
                   real.labels, real.groups)
    oof = P.out_of_fold_scores(real, synthetic, cfg)
    calibration = P.calibrate(oof, real.labels, max_false_positive=cfg.max_false_positive)
    args.out.mkdir(parents=True, exist_ok=True)
    saved = {"scores": oof, "labels": real.labels, "groups": np.array(real.groups)}
    model = P.train_classifier(real, synthetic, cfg)
    if summaries is not None:
        model, calibration, saved["combined"] = P.attach_probe(model, summaries, real, oof, calibration,
                                                               cfg=cfg, segmenter=seg_id)
    np.savez_compressed(args.out / "out_of_fold.npz", **saved)
    print(f"out of fold: {json.dumps(calibration)} ({time.perf_counter() - start:.0f} s)", flush=True)
    info = {"calibration": calibration, "train": {**asdict(cfg), "model": model.config.to_dict(),
                                                  "real_faces": len(real.labels),
                                                  "synthetic_faces": len(synthetic.labels),
                                                  "photos": "all" if args.all_photos else "training half",
                                                  "sources": [str(p) for p in args.labelled + args.masked]
                                                  + ([str(args.synthetic)] if args.synthetic else [])}}
    meta = WeightsMeta(kind="presence", arch=model.config.to_dict(), image_size=128, info=info)
    path = save_weights(args.out / "weights.safetensors", model.state_dict(), meta)
    print(f"{path} ({time.perf_counter() - start:.0f} s)")


def _summaries(segmenter: str, crops):
    """The segmenter's pooled encoder activations for 128 px crops, computed as ``unmask`` computes them,
    and the segmenter's fingerprint."""
    from maskaway_cli.unmask.pipeline import Unmasker, resolve_weights
    from maskaway_cli.weights_io import fingerprint

    unmasker = Unmasker(resolve_weights((segmenter,), need=("segmenter", "generator"), optional=()), device="cpu")
    return unmasker.segment(list(crops))[1], fingerprint(unmasker.segmenter)


if __name__ == "__main__":
    main()
