#!/usr/bin/env python3
"""Measure `brushwork learn` (issue 49) by ../shared/EVAL.md: one validation painting learned
from the 12 validation photos, then the shipped ccpl-r31 and the learned one on those 12
photos with that painting, under both judges, and the warp error on the validation
sequence (ns_tubingen, 8 frames) with that painting.

  python scripts/learn_eval.py adain_brushstrokes.jpg [--steps 150] [--json out.json]

The learned file goes to a temporary cache (the user's is left alone). Progress on stderr;
a markdown row pair on stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("painting", help="a validation style's file name (../shared/data/style/)")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    import numpy as np
    from evaluate import WARP_CONTENT, judges, log
    from core.engine.stylizer import Settings, Stylizer
    from core.nets import learned
    from core.training import evaluate as ev
    from core.training import learn
    from core.training.data import validation_names

    data = ev.SHARED / "data"
    names = validation_names(data / "VALIDATION.md")
    if args.painting not in names["style"]:
        raise SystemExit(f"{args.painting}: not one of the validation paintings {names['style']}")
    photos = [str(data / "content" / n) for n in names["content"]]
    with tempfile.TemporaryDirectory() as cache:
        os.environ["BRUSHWORK_LEARNED"] = cache
        t0 = time.time()
        r = learn.learn(str(data / "style" / args.painting), photos, steps=args.steps, log=log)
        minutes = (time.time() - t0) / 60
        tuned = learned.read(Path(r.output))
        meta = learned.header(Path(r.output))
    log(f"learned: {r.steps} steps in {minutes:.1f} min (bf16 {r.bf16})")

    contents, styles = ev.validation_split(data)
    style = styles[args.painting]
    js = judges()
    ref = {j: {cn: (ev.features(judge, c), ev.features(judge, style)) for cn, c in contents.items()}
           for j, judge in js.items()}
    rows, warp = {}, {}
    frames, maps = ev.motion_sequence(contents[WARP_CONTENT], args.frames) if args.frames else (None, None)
    for name, weights_ in (("shipped", None), ("learned", tuned)):
        st = Stylizer("ccpl-r31", "cpu", learned=weights_)
        side = st.style(style)

        def run(c):
            return np.clip(st.run(c, [side], Settings(tile=0)), 0, 1)
        m = {f"{j}_{k}": [] for j in js for k in ("style_ratio", "content")}
        for cn, c in contents.items():
            out = run(c)
            for j, judge in js.items():
                for k, v in ev.metrics(judge, out, *ref[j][cn]).items():
                    m[f"{j}_{k}"].append(v)
        rows[name] = {k: float(np.mean(v)) for k, v in m.items()}
        if frames is not None:
            warp[name] = ev.warp_error([run(f) for f in frames], maps)
        log(f"{name}: {rows[name]} warp {warp.get(name)}")
    report = {"painting": args.painting, "steps": r.steps, "minutes": round(minutes, 2), "bf16": r.bf16,
              "losses": meta["losses"], "means": rows, "warp_error": warp}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    for name in ("shipped", "learned"):
        v = rows[name]
        print(f"| {args.painting} | {name} | {v['vgg19_style_ratio']:.3f} | {v['vgg19_content']:.3f} | "
              f"{v['vgg16_style_ratio']:.3f} | {v['vgg16_content']:.3f} | {warp.get(name, float('nan')):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
