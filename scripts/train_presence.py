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
    real = P.Faces.join([P.labelled_faces(f, detect, align_size=128, all_photos=args.all_photos) for f in args.labelled]
                        + [P.masked_photos(f, detect, align_size=128, all_photos=args.all_photos) for f in args.masked])
    synthetic = (P.synthetic_faces(args.synthetic, limit=args.synthetic_faces, seed=args.seed)
                 if args.synthetic else P.Faces.join([]))
    print(f"real faces {len(real.labels)} ({real.labels.mean():.1%} masked), synthetic {len(synthetic.labels)}"
          f" ({time.perf_counter() - start:.0f} s)", flush=True)
    oof = P.out_of_fold_scores(real, synthetic, cfg)
    calibration = P.calibrate(oof, real.labels, max_false_positive=cfg.max_false_positive)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "out_of_fold.npz", scores=oof, labels=real.labels, groups=np.array(real.groups))
    print(f"out of fold: {json.dumps(calibration)} ({time.perf_counter() - start:.0f} s)", flush=True)
    model = P.train_classifier(real, synthetic, cfg)
    info = {"calibration": calibration, "train": {**asdict(cfg), "model": cfg.model.to_dict(), "real_faces": len(real.labels),
                                                  "synthetic_faces": len(synthetic.labels),
                                                  "photos": "all" if args.all_photos else "training half",
                                                  "sources": [str(p) for p in args.labelled + args.masked]
                                                  + ([str(args.synthetic)] if args.synthetic else [])}}
    meta = WeightsMeta(kind="presence", arch=cfg.model.to_dict(), image_size=128, info=info)
    path = save_weights(args.out / "weights.safetensors", model.state_dict(), meta)
    print(f"{path} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
