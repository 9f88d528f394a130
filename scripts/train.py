"""Train Brushwork's networks: `python scripts/train.py split|pack|STAGE|validate STAGE|export STAGE`.

  split     find the validation files and their near-copies; writes scripts/data_split.json
  pack      pack the training images (never the held-out ones) into one small file
  STAGE     train one stage of scripts/train.toml, resuming from its checkpoint (or from
            the weights shipped in models/), for at most --minutes, then checkpoint
  validate  measure a stage's checkpoint on 20 validation pairs (both judges of
            ../shared/EVAL.md), append the numbers to its .val.jsonl; decides what to export
  export    write a stage's weights into models/ as fp16 safetensors and print sha256

Stages in order: linear_r31, ccpl_r31 (starts from linear_r31), decoder_r41, linear_r41,
ccpl (starts from linear_r41), ccpl_joint (ccpl and a decoder of its own, trained
together). The relu3_1 encoder and decoder are the authors' (scripts/convert_published.py).
On CPUs where bf16 measures faster than fp32 (AMX; some AVX-512 BF16) the passes run under
bf16 autocast.
"""
from __future__ import annotations

import argparse
import math
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

SPLIT = ROOT / "scripts" / "data_split.json"
SHARED = ROOT.parent / "shared" / "data"


KINDS = ("head", "decoder", "linear")
_COUNTS = ("size", "batch", "iters", "bank")     # whole numbers above 0
_LAYERS = ("r31", "r41")


class ConfigError(Exception):
    """A training config that cannot run, in one line naming the file and the key."""


def load_config(path: Path) -> dict:
    """The TOML config, its top-level keys checked (a typo costs a line, not a traceback)."""
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    for key, kind in (("seed", int), ("pack", str), ("out", str)):
        if key not in cfg:
            raise ConfigError(f"{path}: '{key}' is missing at the top")
        if not isinstance(cfg[key], kind) or isinstance(cfg[key], bool):
            raise ConfigError(f"{path}: '{key}' must be {'an integer' if kind is int else 'a string'}, "
                              f"not {cfg[key]!r}")
    return cfg


def stage_config(cfg: dict, path: Path, stage: str) -> dict:
    """One stage's table, with the keys every stage needs checked for type and range."""
    if not isinstance(cfg.get(stage), dict):
        stages = ", ".join(k for k, v in cfg.items() if isinstance(v, dict))
        raise ConfigError(f"{path}: no stage {stage!r}" + (f" (stages: {stages})" if stages else ""))
    st = dict(cfg[stage])
    where = f"{path}: [{stage}]"
    if st.get("kind") not in KINDS:
        raise ConfigError(f"{where} kind {st.get('kind')!r}: use one of {', '.join(KINDS)}")
    if st.get("layer") not in _LAYERS:
        raise ConfigError(f"{where} layer {st.get('layer')!r}: use one of {', '.join(_LAYERS)}")
    for key in ("size", "batch", "iters", "lr"):
        if key not in st:
            raise ConfigError(f"{where}: '{key}' is missing")
    for key, value in st.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key in _COUNTS and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            raise ConfigError(f"{where} {key} = {value!r}: must be a whole number above 0")
        if (key == "lr" or key.endswith(("_weight", "_share")) or key == "jitter") and \
                not (number and math.isfinite(value) and value >= 0 and (key != "lr" or value > 0)):
            raise ConfigError(f"{where} {key} = {value!r}: must be a finite number"
                              f"{' above 0' if key == 'lr' else ', 0 or more'}")
    return st


def validate(stage, out_dir: Path, step: int, stride: int = 5) -> dict:
    """A stylizing stage: every `stride`-th validation pair (20 of 96: all photos, all
    styles), both judges, and the warp error on evaluate.py's moving sequence (CCPL's
    reason to exist). A decoder stage: the round trip's PSNR on all validation photos."""
    import time

    import evaluate as cli
    from core.training import evaluate as ev
    from core.training.losses import psnr

    contents, styles = ev.validation_split()
    if stage.cfg["kind"] in ("head", "decoder"):
        run = ev.stage_decoder(stage)
        db = [float(psnr(run(p), ev.to_tensor(p))) for p in contents.values()]
        row = {"step": step, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "photos": len(db),
               "psnr_db": round(sum(db) / len(db), 3), "psnr_min_db": round(min(db), 3)}
        with open(out_dir / f"{stage.name}.val.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        return row
    pairs = [(c, s) for c in contents for s in styles][::stride]
    runner = ev.stage_runner(stage)
    res = ev.evaluate([runner], cli.judges(), contents, styles, pairs, set(), log=lambda m: None)
    frames, maps = ev.motion_sequence(contents[cli.WARP_CONTENT], 8)
    warp = ev.warp_error([runner.fn(f, styles[cli.WARP_STYLE]) for f in frames], maps)
    row = {"step": step, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "pairs": len(pairs),
           **{k: round(v, 4) for k, v in res.summary([stage.name])[stage.name].items()
              if k in cli.COLUMNS}, "warp_error": round(warp, 3)}
    with open(out_dir / f"{stage.name}.val.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    return row


def export_command(name: str, step: int, out_dir: Path) -> str:
    """How the checkpoint being exported was made, for the file's provenance and MODELS.md:
    the run, and the checkpoints averaged into it if scripts/average_checkpoints.py wrote it."""
    from core.nets import safetensors_file

    meta = safetensors_file.metadata(out_dir / f"{name}.ckpt.safetensors")
    if "averaged_steps" not in meta:
        return f"python scripts/train.py {name} (resumed until step {step}); python scripts/train.py export {name}"
    steps = ", ".join(map(str, json.loads(meta["averaged_steps"])))
    return (f"python scripts/train.py {name} (resumed until step {step}, its checkpoints at steps {steps} "
            f"kept); python scripts/average_checkpoints.py (those) -o {name}.ckpt.safetensors; "
            f"python scripts/train.py export {name}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("stage", help="split | pack | a stage of the config | validate | export")
    p.add_argument("export_stage", nargs="?", help="with validate or export: which stage")
    p.add_argument("--config", type=Path, default=ROOT / "scripts" / "train.toml")
    p.add_argument("--data", type=Path, default=SHARED)
    p.add_argument("--minutes", type=float, default=9.0, help="stop (and checkpoint) after this long")
    p.add_argument("--iters", type=int, help="override the stage's total steps")
    p.add_argument("--device", default="auto")
    p.add_argument("--models", type=Path, default=ROOT / "models")
    args = p.parse_args(argv)

    if args.stage == "split":
        from core.training.data import split
        result = split(args.data, args.data / "VALIDATION.md")
        SPLIT.write_text(json.dumps(result, indent=1) + "\n")
        print(f"held out {sum(map(len, result['validation'].values()))} files and "
              f"{len(result['near_copies'])} near-copies: {result['near_copies']}")
        return 0
    try:
        cfg = load_config(args.config)
        if args.stage not in ("pack", "validate", "export") or args.export_stage:
            name = args.export_stage if args.stage in ("export", "validate") else args.stage
            st = stage_config(cfg, args.config, name)
        elif args.stage != "pack":
            raise ConfigError(f"train.py {args.stage}: name the stage to {args.stage}")
    except ConfigError as e:
        print(f"train.py: error: {e}", file=sys.stderr)
        return 2
    pack_path, out_dir = ROOT / cfg["pack"], ROOT / cfg["out"]
    if args.stage == "pack":
        from core.training.data import pack
        lists = json.loads(SPLIT.read_text())["train"]
        print(pack(args.data, lists, pack_path, seed=cfg["seed"]))
        return 0

    import torch
    from core.training import loop
    from core.training.stages import Stage, load_into_stage

    if args.iters:
        st["iters"] = args.iters
    torch.manual_seed(cfg["seed"])
    stage = Stage(name, st, pack_path, out_dir, args.device)
    if args.stage == "validate":
        print(json.dumps(validate(stage, out_dir, load_into_stage(stage))))
        return 0
    if args.stage == "export":
        step = load_into_stage(stage)
        prov = {"stage": name, "step": step, "config": json.dumps(st, sort_keys=True),
                "command": export_command(name, step, out_dir),
                "data": "../shared/data minus scripts/data_split.json validation + near-copies"}
        for file, sha in stage.export(args.models, prov).items():
            print(f"{file} {sha} step {step}")
        return 0
    step = loop.run(name, stage.trainable, stage.step, out_dir=out_dir, total=st["iters"],
                    lr=st["lr"], seed=cfg["seed"], minutes=args.minutes, device=stage.device,
                    lr_scales=stage.lr_scales, start=stage.start_step)
    print(f"{name}: step {step}/{st['iters']}; checkpoint in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
