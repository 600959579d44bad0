"""Copy trained weights into the package as MaskAway's default weights (fp16, metadata kept).

    python scripts/bundle_weights.py runs/seg128 [runs/gan32] [--out maskaway_cli/weights]

Each argument (a segmenter, a generator, or both) is a run folder or a ``.safetensors`` file; the kind (segmenter / generator) comes from the
file's metadata. fp16 halves the size (the package limit is 20 MB for both); ``load_model`` casts back to
fp32 on load. Prints each file's size and sha256 for the model card.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import replace
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "maskaway_cli" / "weights"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", nargs="+", type=Path, help="one or both of: segmenter, generator")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    from safetensors.torch import load_file

    from maskaway_cli.weights_io import read_meta, save_weights

    for spec in args.weights:
        path = spec / "weights.safetensors" if spec.is_dir() else spec
        meta = read_meta(path)
        # The presence probe stays fp32: it standardises features whose mean can be large against their
        # spread, and fp16's 3 digits there would move the score (its ~3,000 numbers weigh 12 KB).
        tensors = {k: (v.half() if v.is_floating_point() and not k.startswith("probe.") else v)
                   for k, v in load_file(str(path)).items()}
        meta = replace(meta, info={**meta.info, "dtype": "float16", "bundled_from": path.as_posix()})
        target = save_weights(args.out / f"{meta.kind}.safetensors", tensors, meta)
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        print(f"{target}: {target.stat().st_size / 1e6:.2f} MB sha256 {digest}")


if __name__ == "__main__":
    main()
