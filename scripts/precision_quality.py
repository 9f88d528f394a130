#!/usr/bin/env python3
"""How far bf16 / fp16 move a result from fp32, over the validation split.

    python scripts/precision_quality.py [--methods linear-r31] [--precisions bf16,fp16]

Every one of the 96 validation pairs (`../shared/EVAL.md`: photos and paintings at their
protocol size; `--photos N`: the first N photos × 8 paintings), tiles of 256 px as a large job runs them, each result as the
8-bit picture the user gets. Prints a markdown table in /255: the worst pixel, the
median of the pairs' worst, the 99.9th percentile of the worst pair, the mean, and how
many pairs pass 2/255 anywhere. This decides what `--precision auto` may pick.

With `--moved` a last row per method measures fp32 against itself on the photo moved by
one pixel (its first column cropped off, the result compared where the two overlap):
what an artist sees change when nothing but the framing changed. A precision whose row
stays below that one differs from fp32 by less than re-framing the shot does.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="linear-r31")
    p.add_argument("--precisions", default="bf16,fp16")
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--photos", type=int, help="only the first N photos (N × 8 pairs)")
    p.add_argument("--moved", action="store_true",
                   help="also fp32 against fp32 on the photo moved by one pixel (the yardstick)")
    args = p.parse_args(argv)

    from core.engine.stylizer import Settings, Stylizer
    from core.training import evaluate as ev

    contents, styles = ev.validation_split()
    contents = dict(list(contents.items())[:args.photos])
    settings = Settings(tile=args.tile)
    rows = ["| method | precision | worst pixel | median of the pairs' worst | 99.9th pct., worst pair "
            "| mean | pairs over 2/255 |", "|---|---|---|---|---|---|---|"]
    for method in args.methods.split(","):
        ref = Stylizer(method, "cpu", backend="torch", precision="fp32")
        lows = {pr: Stylizer(method, "cpu", backend="torch", precision=pr)
                for pr in args.precisions.split(",")}
        diffs: dict[str, list] = {pr: [] for pr in lows}
        moved = "fp32, photo moved 1 px"
        if args.moved:
            diffs[moved] = []
        for i, (cn, c) in enumerate(contents.items()):
            print(f"{method}: photo {i + 1}/{len(contents)}", file=sys.stderr, flush=True)
            for s in styles.values():
                def picture(st, photo=c):
                    return np.round(np.clip(st.run(photo, [st.style(s)], settings), 0, 1) * 255)
                base = picture(ref)
                for pr, st in lows.items():
                    diffs[pr].append(np.abs(picture(st) - base))
                if args.moved:
                    diffs[moved].append(np.abs(picture(ref, c[:, 1:]) - base[:, 1:]))
        for pr, d in diffs.items():
            worst = np.array([x.max() for x in d])
            k = int(worst.argmax())
            rows.append(f"| {method} | {pr} | {worst.max():.1f} | {np.median(worst):.2f} | "
                        f"{np.percentile(d[k], 99.9):.2f} | {np.mean([x.mean() for x in d]):.3f} | "
                        f"{int((worst > 2).sum())} of {len(d)} |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
