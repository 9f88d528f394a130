"""Train Brushwork's networks: `python scripts/train.py split|pack|STAGE|export STAGE`.

  split     find the validation files and their near-copies; writes scripts/data_split.json
  pack      pack the training images (never the held-out ones) into one small file
  STAGE     train one stage of scripts/train.toml, resuming from its checkpoint, for at
            most --minutes (a device command lasts 10 minutes), then checkpoint
  export    write a stage's weights into models/ as fp16 safetensors and print sha256

Stages in order: decoder_r31, decoder_r41, linear_r31, linear_r41, ccpl.
"""
from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPLIT = ROOT / "scripts" / "data_split.json"
SHARED = ROOT.parent / "shared" / "data"


def _config(path: Path, stage: str, cpu_stopgap: bool) -> tuple[dict, dict]:
    cfg = tomllib.loads(path.read_text())
    if stage not in cfg:
        sys.exit(f"train.py: no stage {stage!r} in {path}")
    st = dict(cfg[stage])
    if cpu_stopgap:  # 2 CPU cores: smaller crops and batches, same losses
        st.update(size=128, batch=max(2, st["batch"] // 2))
    return cfg, st


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("stage", help="split | pack | a stage of the config | export")
    p.add_argument("export_stage", nargs="?", help="with export: which stage")
    p.add_argument("--config", type=Path, default=ROOT / "scripts" / "train.toml")
    p.add_argument("--data", type=Path, default=SHARED)
    p.add_argument("--minutes", type=float, default=9.0, help="stop (and checkpoint) after this long")
    p.add_argument("--iters", type=int, help="override the stage's total steps")
    p.add_argument("--device", default="auto")
    p.add_argument("--cpu-stopgap", action="store_true", help="128 px crops, half batches (CPU)")
    p.add_argument("--models", type=Path, default=ROOT / "models")
    args = p.parse_args(argv)

    if args.stage == "split":
        from core.training.data import split
        result = split(args.data, args.data / "VALIDATION.md")
        SPLIT.write_text(json.dumps(result, indent=1) + "\n")
        print(f"held out {sum(map(len, result['validation'].values()))} files and "
              f"{len(result['near_copies'])} near-copies: {result['near_copies']}")
        return 0
    cfg = tomllib.loads(args.config.read_text())
    pack_path, out_dir = ROOT / cfg["pack"], ROOT / cfg["out"]
    if args.stage == "pack":
        from core.training.data import pack
        lists = json.loads(SPLIT.read_text())["train"]
        print(pack(args.data, lists, pack_path, seed=cfg["seed"]))
        return 0

    import torch
    from core.training import loop
    from core.training.stages import Stage, load_into_stage

    name = args.export_stage if args.stage == "export" else args.stage
    _, st = _config(args.config, name, args.cpu_stopgap)
    if args.iters:
        st["iters"] = args.iters
    torch.manual_seed(cfg["seed"])
    stage = Stage(name, st, pack_path, out_dir, args.device)
    if args.stage == "export":
        step = load_into_stage(stage)
        flags = " --cpu-stopgap" if args.cpu_stopgap else ""
        prov = {"stage": name, "step": step, "config": json.dumps(st, sort_keys=True),
                "command": f"python scripts/train.py {name}{flags} (resumed until step {step}); "
                           f"python scripts/train.py export {name}{flags}",
                "data": "../shared/data minus scripts/data_split.json validation + near-copies"}
        for file, sha in stage.export(args.models, prov).items():
            print(f"{file} {sha} step {step}")
        return 0
    step = loop.run(name, stage.trainable, stage.step, out_dir=out_dir, total=st["iters"],
                    lr=st["lr"], seed=cfg["seed"], minutes=args.minutes, device=stage.device,
                    lr_scales=stage.lr_scales)
    print(f"{name}: step {step}/{st['iters']}; checkpoint in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
