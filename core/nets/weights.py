"""Weight registry: every model file, its sha256, and the command that produces it.

Weights are only ever read from safetensors files whose sha256 matches this registry,
so a truncated download, a stale checkpoint or a swapped file fails loudly instead of
painting garbage. Trained files that do not exist yet have no hash: a method that needs
one is "untrained" and runs only when the caller explicitly allows deterministic random
weights (tests, CI, plumbing checks).
"""
from __future__ import annotations

import hashlib
import os
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..nets import safetensors_file
from ..nets.architecture import MODELS
from ..errors import BrushworkError



def _models_dir() -> Path:
    """Where the networks are: BRUSHWORK_MODELS if set; else the engine's own `models`
    package data (installed as `brushwork`: pip install ., --user, --target, a wheel); else
    models/ beside the engine's folder (a checkout's core/, the extension's)."""
    if "BRUSHWORK_MODELS" in os.environ:
        return Path(os.environ["BRUSHWORK_MODELS"])
    engine = __package__.rsplit(".", 1)[0]          # brushwork, core, or the extension's …core
    inside = Path(str(resources.files(engine).joinpath("models")))
    return inside if inside.is_dir() else Path(__file__).resolve().parents[2] / "models"


MODELS_DIR = _models_dir()

RANDOM_CONV_GAIN = 1.7


@dataclass(frozen=True)
class Entry:
    sha256: str | None  # None: not trained yet
    command: str


REGISTRY = {
    "vgg19": Entry("eb11db403bb2a13e7c47a7b9bd79633b44077f7ede739993a71285b81622e768",
                   "python scripts/convert_vgg19.py"),
    "encoder_r31": Entry("f47d3c666efdb377aa0c75f58e613c7c1c4e520ad94e6934551237c93e72aec6",
                         "python scripts/convert_published.py"),
    "encoder_r41": Entry("b9030774790869c6fdb6997dc1ba6e38f1f96b080ba0967c01ab57cf4ce00965",
                         "python scripts/train.py pack; python scripts/make_encoder_r41.py"),
    "decoder_r31": Entry("ae64b00cd763b986683b714cedabc35b5f17cffb190d84a457ef4b31c91dd75c",
                         "python scripts/convert_published.py"),
    "decoder_r41": Entry("f8c892ad717d97cbedb2c42d28aff1246b97402192ccf88a9b332d26b465c7a0",
                         "python scripts/train.py pack; python scripts/train.py decoder_head_r41 (stopped at step 2285); python scripts/train.py decoder_r41 (resumed until step 6600, its checkpoints at steps 6137, 6239, 6326, 6427, 6532, 6600 kept); python scripts/average_checkpoints.py (those) -o decoder_r41.ckpt.safetensors; python scripts/train.py export decoder_r41"),
    "linear_r31": Entry("6692ef64311318cb534b3d0bb91be0bf5fe1d0952a16c9122a49fad5e656e918",
                        "python scripts/train.py linear_r31 (resumed until step 2461); python scripts/train.py export linear_r31"),
    "ccpl_r31": Entry("902541d6fba044fbf72ad4451002344bb5c31cf615afe788e2ee26464cd49cd7",
                      "python scripts/train.py ccpl_r31 (resumed until step 1970); python scripts/train.py export ccpl_r31; python scripts/train.py ccpl_r31_joint (continued from the shipped step 3000 with style_weight 25 until step 4245, its checkpoints at steps 3040, 4096, 4144, 4195, 4245 kept); python scripts/average_checkpoints.py (4096, 4144, 4195, 4245) -o mean4245.safetensors; python scripts/average_checkpoints.py (3040, mean4245.safetensors) -o ccpl_r31_joint.ckpt.safetensors; python scripts/train.py export ccpl_r31_joint; python scripts/train.py ccpl_r31_joint (continued from the shipped step 4245 with style_weight 40 and iters 5400 until step 4809, its checkpoints at steps 4256, 4720, 4757, 4795, 4809 kept); python scripts/average_checkpoints.py (4720, 4757, 4795, 4809) -o mean4809.safetensors; python scripts/average_checkpoints.py (4256, mean4809.safetensors) -o ccpl_r31_joint.ckpt.safetensors; python scripts/train.py export ccpl_r31_joint"),
    "ccpl_decoder_r31": Entry("e40946d9c782d2b90498652461714a25cf3232a0a4b6916f89e4a1f6fb3993c5",
                              "python scripts/train.py ccpl_r31_joint (continued from the shipped step 3000 with style_weight 25 until step 4245, its checkpoints at steps 3040, 4096, 4144, 4195, 4245 kept); python scripts/average_checkpoints.py (4096, 4144, 4195, 4245) -o mean4245.safetensors; python scripts/average_checkpoints.py (3040, mean4245.safetensors) -o ccpl_r31_joint.ckpt.safetensors; python scripts/train.py export ccpl_r31_joint; python scripts/train.py ccpl_r31_joint (continued from the shipped step 4245 with style_weight 40 and iters 5400 until step 4809, its checkpoints at steps 4256, 4720, 4757, 4795, 4809 kept); python scripts/average_checkpoints.py (4720, 4757, 4795, 4809) -o mean4809.safetensors; python scripts/average_checkpoints.py (4256, mean4809.safetensors) -o ccpl_r31_joint.ckpt.safetensors; python scripts/train.py export ccpl_r31_joint"),
    "linear_decoder_r31": Entry(None, "python scripts/train.py linear_r31_joint; python scripts/train.py export linear_r31_joint"),
    "linear_r41": Entry("48b34ad573cad52c06b1acb443ca8b19f82b703c19742413780d95cede130848",
                        "python scripts/train.py linear_r41 (resumed until step 1700); python scripts/train.py export linear_r41; python scripts/train.py linear_r41_joint (resumed until step 800, its checkpoints at steps 709, 740, 769, 800 kept); python scripts/average_checkpoints.py (those) -o linear_r41_joint.ckpt.safetensors; python scripts/train.py export linear_r41_joint"),
    "linear_decoder_r41": Entry("782d04d30160aed757e8eb840ff7806f32382aa6f526098f9d4284d762aec1da",
                                "python scripts/train.py linear_r41_joint (resumed until step 800, its checkpoints at steps 709, 740, 769, 800 kept); python scripts/average_checkpoints.py (those) -o linear_r41_joint.ckpt.safetensors; python scripts/train.py export linear_r41_joint"),
    "ccpl_r41": Entry("c17968fea9c5ab101cfc61786972cf194350576110fb5149dcac4216b792fa05",
                      "python scripts/train.py ccpl_joint (resumed until step 3000, its checkpoints at steps 2790, 2837, 2877, 2917, 2960, 3000 kept); python scripts/average_checkpoints.py (those) -o ccpl_joint.ckpt.safetensors; python scripts/train.py export ccpl_joint"),
    "ccpl_decoder_r41": Entry("72ece688460b3d4edb413c96e4521ffd107d7f21f3c97cfb5d3e2c4370541079",
                              "python scripts/train.py ccpl_joint (resumed until step 3000, its checkpoints at steps 2790, 2837, 2877, 2917, 2960, 3000 kept); python scripts/average_checkpoints.py (those) -o ccpl_joint.ckpt.safetensors; python scripts/train.py export ccpl_joint"),
}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_trained(key: str) -> bool:
    return REGISTRY[key].sha256 is not None


def load(key: str, *, models_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Verified float32 arrays of one registered model file."""
    entry, model = REGISTRY[key], MODELS[key]
    path = Path(models_dir or MODELS_DIR) / model.file
    if entry.sha256 is None:
        raise BrushworkError(f"{model.file}: no trained weights exist yet; "
                             f"produce them with `{entry.command}`")
    if not path.is_file():
        raise BrushworkError(f"{path}: model file missing; produce it with `{entry.command}`")
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise BrushworkError(f"{path}: sha256 {actual[:12]}… does not match the registry "
                             f"({entry.sha256[:12]}…); re-create it with `{entry.command}`")
    arrays = safetensors_file.read(path)
    expected = model.params()
    for name, shape in expected.items():
        if name not in arrays or tuple(arrays[name].shape) != shape:
            raise BrushworkError(f"{path}: tensor {name} missing or not of shape {shape}")
    return {name: arrays[name].astype(np.float32) for name in expected}


def random(key: str) -> dict[str, np.ndarray]:
    """Deterministic stand-in weights, the same on every run.

    Seeded by the parameter name, so adding a model never changes another's weights.
    Two nudges keep an untrained pipeline's pictures in a viewable range: Linear's
    matrix layers start near the identity, and a decoder's last layer is centred on
    mid-grey.
    """
    params = MODELS[key].params()
    out = {}
    for name, shape in params.items():
        weight_shape = params[name.rsplit(".", 1)[0] + ".weight"]
        fan_in = int(np.prod(weight_shape[1:]))
        # PyTorch's default bound, 1.7× on convolution weights: through a decoder's nine
        # ReLU layers the normalised encoders' unit-scale features then still make a
        # picture with contrast (std about 0.1 at 1.7; 0.004 at 1, saturated at 2)
        bound = (RANDOM_CONV_GAIN if len(weight_shape) == 4 and name.endswith(".weight") else 1.0) / np.sqrt(fan_in)
        rng = np.random.default_rng(zlib.crc32(f"{key}/{name}".encode()))
        out[name] = rng.uniform(-bound, bound, size=shape).astype(np.float32)
        if name.endswith("fc.weight"):
            out[name] *= 1e-5
        elif name.endswith("fc.bias"):
            out[name] = np.eye(int(np.sqrt(shape[0])), dtype=np.float32).reshape(-1)
        elif name == "dec1_1.bias":
            out[name] += 0.5
    return out


def resolve(key: str, *, allow_untrained: bool) -> tuple[dict[str, np.ndarray], bool]:
    """(weights, trained?) — random weights only when allowed and nothing is trained."""
    if is_trained(key) or not allow_untrained:
        return load(key), True
    return random(key), False


def channel_scales(raw: dict, normalised: dict, convs: list[str]) -> dict[str, np.ndarray]:
    """Per-channel factors m with raw ReLU output = m · normalised ReLU output, per conv.

    A "normalised" VGG divides conv k's filter c (and bias) by m_c and multiplies conv
    k+1's input weights by the same m_c; ReLU and max-pool commute with positive scales,
    so the features differ by exactly m at every layer. Solved per output channel by
    least squares over the weights; `convs` in network order from the first conv.
    """
    m_in = np.ones(raw[f"{convs[0]}.weight"].shape[1])
    out = {}
    for name in convs:
        w = raw[f"{name}.weight"].astype(np.float64) * m_in[None, :, None, None]
        p = normalised[f"{name}.weight"].astype(np.float64)
        a = np.concatenate([w.reshape(len(w), -1), raw[f"{name}.bias"][:, None]], 1)
        b = np.concatenate([p.reshape(len(p), -1), normalised[f"{name}.bias"][:, None]], 1)
        m_in = (a * b).sum(1) / (b * b).sum(1)
        out[name] = m_in
    return out
