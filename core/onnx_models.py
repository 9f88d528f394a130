"""The shipped ONNX graphs: which exist, where, their sha256, and how they are made.

Every network part whose weights are trained ships as one small graph per wrap mode
(`models/<net>-<wrap>.onnx`). The graphs hold no weights of their own: their
initializers point into the safetensors file beside them (ONNX external data), so the
extension carries each weight once. `scripts/export_onnx.py` writes them; a test checks
that the files are exactly what `graph_bytes` produces now.
"""
from __future__ import annotations

from pathlib import Path

from . import safetensors_file, weights
from .architecture import ENCODERS, MODELS
from .onnx_graph import model_bytes
from .tiling import WRAPS

COMMAND = "python scripts/export_onnx.py"
# file → sha256, filled in from scripts/export_onnx.py's output (models/MODELS.md lists them).
SHA256 = {
    "encoder_r31-none.onnx": "80c5c80a8b8d94c67a25f3859411cd374138a784831fa879e45f066e3e9b92ee",
    "encoder_r31-x.onnx": "f4dcaed386f691d53e22999843d3c97f27691ff3e7b56b5c733931a55a4841be",
    "encoder_r31-both.onnx": "4ad2bb1119389e35cece195d0b2659fd80f583e3e51cfe1f63628e2912840008",
    "encoder_r41-none.onnx": "4d2f4ac7a2860aec06680dd12ff38843ef06efc000eb0bed8f417f32ab2204af",
    "encoder_r41-x.onnx": "1b23f12a6262ce3d9dfdf1588965c536e987547999cafdfed0e18440956c8795",
    "encoder_r41-both.onnx": "1b6ddd3fe4412fe2a9a76c2eb793f427124125a5938471f7a2bbfc9f4133a93a",
    "decoder_r31.decoder-none.onnx": "4995125112655758614c41614fb187c09a17772d4b9e145e4ddcb70ffcec802f",
    "decoder_r31.decoder-x.onnx": "1ba5591ae1fe68ac0d3fa999342f1a2364a35d401f78fff62b668d5130637cd7",
    "decoder_r31.decoder-both.onnx": "1ecca95df793a109552662da152865d739e614e05ae1b5f51b10a4b8ad402026",
    "linear_r31.cnet-none.onnx": "e4a79a709424d1f8bc6d233dec1c416f4d23cd07d2374868cc90f1cd4449ff0f",
    "linear_r31.cnet-x.onnx": "99fcfc9d2efe917eb8ab8442e9d5fca2d64c4cb8dff0659a804779aab4a226f5",
    "linear_r31.cnet-both.onnx": "2eb30bbaa871058ea2528314f8f5b273a157827b746b7018dd78f49883668740",
    "linear_r31.snet-none.onnx": "2b83d685eaf689dc5520d5edf9c947a3e5dbfc2a473b26efa65ae2dec54495e6",
    "linear_r31.snet-x.onnx": "a7ca4e784b6b59c6d31f88848baee4c63707380c293924f04183fc0063123d49",
    "linear_r31.snet-both.onnx": "a1fe5d71a345deadd4219b46bbe51bf00ee8bb9c31c22a57e52e410e43c69bd3",
}


def model_key(net: str) -> str:
    """The weight file a net's parameters live in."""
    return "vgg19" if net.startswith("encoder_") else net.split(".")[0]


def part_of(net: str):
    if net.startswith("encoder_"):
        return ENCODERS[net.split("_", 1)[1]]
    model, part = net.split(".")
    return MODELS[model].parts[part]


def nets() -> list[str]:
    """Every net the engine runs: encoders, and each model's parts."""
    out = [f"encoder_{k}" for k in ENCODERS]
    for key, model in MODELS.items():
        if key != "vgg19":
            out += [f"{key}.{p}" for p in model.parts]
    return out


def shipped() -> list[tuple[str, str]]:
    """(net, wrap) of every graph that ships: those whose weights are trained."""
    return [(net, wrap) for net in nets() if weights.is_trained(model_key(net)) for wrap in WRAPS]


def file_name(net: str, wrap: str) -> str:
    return f"{net}-{wrap}.onnx"


def graph_bytes(net: str, wrap: str, models_dir: Path | None = None) -> bytes:
    """The shipped graph's bytes, its initializers pointing into the weight file."""
    file = MODELS[model_key(net)].file
    table = safetensors_file.layout(Path(models_dir or weights.MODELS_DIR) / file)
    part = part_of(net)
    return model_bytes(part, wrap, {name: (file, table[name]) for name in part.params()},
                       preprocess=net.startswith("encoder_"),
                       doc=f"Brushwork {net}, wrap {wrap}; weights in {file}. Made by `{COMMAND}`.")
