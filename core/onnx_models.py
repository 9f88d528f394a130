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
    "decoder_r31.decoder-none.onnx": "b553fa4959a5e3016e39c7bd2e3ef50cf5a6b6982c9bdc6a29c9a07c35098c14",
    "decoder_r31.decoder-x.onnx": "6cb88a0f78040c8e11c0362a3be742eccf366670de4b31f72f7fb7bb31dd94bc",
    "decoder_r31.decoder-both.onnx": "abd2c714dd5b47c63cf1ec2a301820655d94d3a19113eae570382bcd532e15d3",
    "linear_r31.cnet-none.onnx": "e4a79a709424d1f8bc6d233dec1c416f4d23cd07d2374868cc90f1cd4449ff0f",
    "linear_r31.cnet-x.onnx": "788daf91ce8e7d4e5fb3c45cbbbc7ba9ad814b3adef1b8cde3eff7430fa2bbe0",
    "linear_r31.cnet-both.onnx": "0a13f33e96c286f7973f94538736dc678f5f109d9295b93299d9f60aa055170a",
    "linear_r31.snet-none.onnx": "2b83d685eaf689dc5520d5edf9c947a3e5dbfc2a473b26efa65ae2dec54495e6",
    "linear_r31.snet-x.onnx": "700dbf27c65d0d493a1cca7aaa26ddd7ad0effe4b1bf9a958c56378ec7d27c13",
    "linear_r31.snet-both.onnx": "44058b5a72b569e812b23f38461423e2bb12a62563676dfa45c2ed376e10996e",
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
