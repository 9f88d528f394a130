#!/usr/bin/env python3
"""Build models/encoder_r31.safetensors and models/decoder_r31.safetensors from the
authors' relu3_1 networks of Linear style transfer (Li et al., CVPR 2019).

Why this exists: `vgg_r31.pth` / `dec_r31.pth` (BSD-2-Clause, see
models/LICENSE-LinearStyleTransfer.txt) are old-style PyTorch pickles; Brushwork ships
weights only as safetensors with a checked sha256. This script checks the sources'
sha256 first, reads them with `torch.load(weights_only=True)` (no code runs), checks
that the encoder's 1×1 input conv is exactly the Caffe preprocessing Brushwork builds in
code, renames the layers to our table names and writes float32 safetensors with the
provenance in the header. Byte-for-byte reproducible.

Exit status: 0 on success, 2 on a hash or layout mismatch.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "scripts"))
from convert_vgg19 import serialize_safetensors, write_atomic  # noqa: E402
from core.nets.architecture import MODELS  # noqa: E402
from core.nets.weights import sha256_of  # noqa: E402

SOURCES = {
    "vgg_r31.pth": "f9bffd632f87360d4de1bcd1627246d2b41a6278aa46e1c1fe7212796b646b7e",
    "dec_r31.pth": "3ccc3bbc97a15e1d002d0b13523543c518dda2d0346c8f4d39c1d381d8490f68",
}
# source layer -> our table name, in network order
RENAME = {
    "encoder_r31": ("vgg_r31.pth", {"conv2": "conv1_1", "conv3": "conv1_2", "conv4": "conv2_1",
                                    "conv5": "conv2_2", "conv6": "conv3_1"}),
    "decoder_r31": ("dec_r31.pth", {"conv7": "dec3_1", "conv8": "dec2_2", "conv9": "dec2_1",
                                    "conv10": "dec1_2", "conv11": "dec1_1"}),
}
LICENSE = ("BSD-2-Clause, (c) 2018 SunshineAtNoon (Li, Liu, Li, Kautz, Yang: Learning Linear "
           "Transformations for Fast Arbitrary Style Transfer, CVPR 2019); notice in "
           "LICENSE-LinearStyleTransfer.txt")
ORIGIN = ("models.zip of github.com/sunshineatnoon/LinearStyleTransfer, as committed in "
          "sunayana-981/LinearStyleTransfer@62f4a3f and ssaraff98/LinearStyleTransferHistogram@7fd5abf "
          "(byte-identical)")
DESCRIPTION = {
    "encoder_r31": "normalised VGG-19 conv1_1..conv3_1 (each filter rescaled to mean activation 1); "
                   "input RGB [0,1] through the Caffe 1x1 preprocessing built in code",
    "decoder_r31": "relu3_1 decoder (the same tensors as Universal Style Transfer's decoder3)",
}


class Mismatch(Exception):
    pass


def convert(src_dir: Path, out_dir: Path) -> dict[str, str]:
    """Writes both files; returns file name -> sha256."""
    for name, sha in SOURCES.items():
        actual = sha256_of(src_dir / name)
        if actual != sha:
            raise Mismatch(f"{src_dir / name}: sha256 {actual} is not the published file's {sha}")
    import numpy as np
    import torch
    written = {}
    for key, (source, rename) in RENAME.items():
        state = torch.load(src_dir / source, map_location="cpu", weights_only=True)
        if key == "encoder_r31":
            _check_preprocessing(state, src_dir / source)
        arrays = {}
        for old, new in rename.items():
            for p in ("weight", "bias"):
                arrays[f"{new}.{p}"] = np.ascontiguousarray(state[f"{old}.{p}"].numpy(), np.float32)
        expected = MODELS[key].params()
        shapes = {n: tuple(a.shape) for n, a in arrays.items()}
        if shapes != expected:
            raise Mismatch(f"{src_dir / source}: layout {shapes} is not {expected}")
        meta = {"model": DESCRIPTION[key], "source": f"{source} from {ORIGIN}",
                "source_sha256": SOURCES[source], "license": LICENSE,
                "command": "python scripts/convert_published.py"}
        path = out_dir / MODELS[key].file
        write_atomic(path, serialize_safetensors(arrays, meta))
        written[path.name] = sha256_of(path)
    return written


def _check_preprocessing(state: dict, path: Path) -> None:
    """The published conv1 must be the RGB→Caffe 1×1 conv that core.backends.torch.nets builds."""
    import torch
    from core.backends.torch.nets import caffe_preprocess

    ours = caffe_preprocess()
    if not (torch.equal(state["conv1.weight"], ours.weight) and
            torch.allclose(state["conv1.bias"], ours.bias, atol=1e-4)):
        raise Mismatch(f"{path}: conv1 is not the Caffe preprocessing (BGR x 255 - mean)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, default=REPO_ROOT.parent / "shared" / "weights",
                   help="folder holding vgg_r31.pth and dec_r31.pth")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "models")
    args = p.parse_args(argv)
    try:
        for name, sha in convert(args.source, args.out).items():
            print(f"{name} {sha}")
    except (Mismatch, FileNotFoundError) as e:
        print(f"convert_published.py: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
