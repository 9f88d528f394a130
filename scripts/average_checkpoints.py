"""Average the weights of several checkpoints of one training stage into one checkpoint.

    python scripts/average_checkpoints.py A.ckpt.safetensors B.ckpt.safetensors ... -o OUT

Late in a run, at a low learning rate, consecutive checkpoints scatter around a minimum
(a decoder's round trip by ±0.3 dB between checkpoints minutes apart); their mean sits
nearer its centre than any one of them (Polyak averaging). The result is a checkpoint
like the loop's: parameters averaged, Adam's state and the step taken from the last
input, and the steps averaged recorded in its metadata, so `train.py export` names them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def average(paths: list[Path], out: Path) -> dict:
    """Writes the mean of `paths`' parameters (Adam state of the latest) to `out`; returns its metadata."""
    import torch
    from safetensors import safe_open

    from core.training import loop

    if len(paths) < 2:
        raise SystemExit("average_checkpoints.py: give at least two checkpoints")
    metas, sums, last = [], {}, None
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"average_checkpoints.py: {path}: no such checkpoint")
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            if "step" not in meta:
                raise SystemExit(f"average_checkpoints.py: {path}: not a training checkpoint (no step)")
            params = {k: f.get_tensor(k).double() for k in f.keys() if not k.startswith("opt/")}
        if sums and params.keys() != sums.keys():
            raise SystemExit(f"average_checkpoints.py: {path}: other parameters than {paths[0]}")
        for k, v in params.items():
            sums[k] = sums[k] + v if k in sums else v
        metas.append(meta)
        if last is None or int(meta["step"]) >= int(last[1]["step"]):
            last = (path, meta)
    tensors = {k: (v / len(paths)).float().contiguous() for k, v in sums.items()}
    with safe_open(str(last[0]), "pt") as f:
        tensors.update({k: f.get_tensor(k) for k in f.keys() if k.startswith("opt/")})
    steps = sorted(int(m["step"]) for m in metas)
    meta = {**last[1], "averaged_steps": json.dumps(steps)}
    loop.write_safetensors(out, tensors, meta)
    return meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    args = p.parse_args(argv)
    meta = average(args.checkpoints, args.output)
    steps = json.loads(meta["averaged_steps"])
    print(f"{args.output}: mean of the checkpoints at steps {', '.join(map(str, steps))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
