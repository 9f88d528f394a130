"""Write the ONNX graphs of every shipped network into models/ (see models/MODELS.md).

    python scripts/export_onnx.py            # write models/<net>-<wrap>.onnx, print sha256s
                                             # (and delete graphs whose weights left)
    python scripts/export_onnx.py --check    # exit 1 if any file differs from a fresh export

The graphs are written from core/nets/architecture.py's tables by core/backends/onnx/graph.py (no
torch, no `onnx` package) and point into the safetensors files for their weights, so the
same weights give the same bytes on every run and every machine.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.backends.onnx import models as onnx_models
from core.nets import weights  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models-dir", type=Path, default=weights.MODELS_DIR)
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    args = p.parse_args(argv)
    stale = 0
    names = {onnx_models.file_name(net, wrap) for net, wrap in onnx_models.shipped()}
    for old in sorted(args.models_dir.glob("*.onnx")):
        if old.name not in names:  # a graph whose weights no longer ship
            if args.check:
                print(f"{old}: no longer shipped", file=sys.stderr)
                stale += 1
            else:
                old.unlink()
    for net, wrap in onnx_models.shipped():
        data = onnx_models.graph_bytes(net, wrap, args.models_dir)
        path = args.models_dir / onnx_models.file_name(net, wrap)
        if args.check:
            if not path.is_file() or path.read_bytes() != data:
                print(f"{path}: differs from a fresh export", file=sys.stderr)
                stale += 1
            continue
        path.write_bytes(data)
        print(f"{path.name} {hashlib.sha256(data).hexdigest()} {len(data)}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
