#!/usr/bin/env python3
"""Build models/encoder_r41.safetensors: the published relu3_1 encoder continued to
relu4_1 with our VGG-19's layers, exactly rescaled (core/training/encoder.py).

Needs models/encoder_r31.safetensors and vgg19_relu4_1.safetensors (checked by their
registry sha256) and the training pack (`python scripts/train.py pack`), whose photos
give conv4_1's mean activations. Deterministic: the same inputs give the same bytes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "scripts"))
from convert_vgg19 import serialize_safetensors, write_atomic  # noqa: E402
from convert_published import LICENSE  # noqa: E402
from core.nets import weights  # noqa: E402
from core.nets.architecture import MODELS  # noqa: E402

CROPS = 512
SIZE = 256


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pack", type=Path, default=REPO_ROOT / ".cache" / "train" / "pack.safetensors")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "models")
    args = p.parse_args(argv)
    import torch
    from core.training import data, encoder

    torch.set_num_threads(max(1, torch.get_num_threads()))
    vgg, r31 = weights.load("vgg19"), weights.load("encoder_r31")
    images = data.unpack(args.pack)["content"]
    mean = encoder.mean_activations(vgg, images, CROPS, SIZE)
    arrays = encoder.build(vgg, r31, mean)
    meta = {"model": "normalised VGG-19 conv1_1..conv4_1: the published relu3_1 encoder, then our VGG-19's "
                     "conv3_2..conv4_1 (conv3_2's input rescaled by relu3_1's scales, conv4_1 divided by its "
                     f"mean activation over {CROPS} {SIZE}-px crops of the training photos)",
            "source": f"encoder_r31.safetensors ({weights.REGISTRY['encoder_r31'].sha256}), "
                      f"vgg19_relu4_1.safetensors ({weights.REGISTRY['vgg19'].sha256})",
            "license": f"conv1_1..conv3_1: {LICENSE}; conv3_2..conv4_1: VGG-19 (CC BY 4.0, Simonyan & Zisserman)",
            "command": "python scripts/train.py pack; python scripts/make_encoder_r41.py"}
    path = args.out / MODELS["encoder_r41"].file
    write_atomic(path, serialize_safetensors(arrays, meta))
    print(f"{path.name} {weights.sha256_of(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
