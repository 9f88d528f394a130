"""The networks as plain tables, shared by every backend and by the tiler.

Each network part is a list of layers. The torch backend builds modules from these
tables, the weight registry derives parameter names and shapes from them, and the tiler
derives each part's receptive field (hence the tile halo) from them, so the three can
never disagree. No torch here: orchestration must import without it.

Layer tuples:
  ("conv", name, c_in, c_out, k, pad)  k×k convolution (k = 3 in every table), padded by
                                       one pixel: pad = "image" (reflection in the papers;
                                       swapped for circular on wrapped axes) or "zero"
                                       (Linear's matrix nets)
  ("relu",)  ("pool",)  2×2 max-pool, stride 2, ceil_mode   ("up",)  nearest ×2
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

Layer = tuple


def _convs(spec, pad="image", final_relu=True):
    """[(name, c_in, c_out), ...] → 3×3 conv/relu layers."""
    layers = []
    for i, (name, cin, cout) in enumerate(spec):
        layers.append(("conv", name, cin, cout, 3, pad))
        if final_relu or i < len(spec) - 1:
            layers.append(("relu",))
    return layers


# VGG-19 up to relu3_1 / relu4_1 (Simonyan & Zisserman). Input: RGB in [0, 1]; the Caffe
# preprocessing (BGR × 255 − mean) is a fixed 1×1 conv built by the backend.
VGG_R31 = (
    _convs([("conv1_1", 3, 64), ("conv1_2", 64, 64)]) + [("pool",)]
    + _convs([("conv2_1", 64, 128), ("conv2_2", 128, 128)]) + [("pool",)]
    + _convs([("conv3_1", 128, 256)])
)
VGG_R41 = (
    VGG_R31
    + _convs([("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256)])
    + [("pool",)] + _convs([("conv4_1", 256, 512)])
)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# Decoders mirror the encoder (Li et al. 2019; the same shape in Wu et al. 2022).
DECODER_R31 = (
    _convs([("dec3_1", 256, 128)]) + [("up",)]
    + _convs([("dec2_2", 128, 128), ("dec2_1", 128, 64)]) + [("up",)]
    + _convs([("dec1_2", 64, 64), ("dec1_1", 64, 3)], final_relu=False)
)
DECODER_R41 = (
    _convs([("dec4_1", 512, 256)]) + [("up",)]
    + _convs([("dec3_4", 256, 256), ("dec3_3", 256, 256), ("dec3_2", 256, 256),
              ("dec3_1", 256, 128)]) + [("up",)]
    + DECODER_R31[3:]
)


def _matrix_net(prefix, c):
    """Linear's content/style CNN: three zero-padded 3×3 convs down to 32 channels."""
    return _convs([(f"{prefix}.conv1", c, c // 2), (f"{prefix}.conv2", c // 2, c // 4),
                   (f"{prefix}.conv3", c // 4, 32)], pad="zero", final_relu=False)


MATRIX = 32  # the size of Linear's and CCPL's transformation matrices


@dataclass(frozen=True)
class Part:
    """One network piece: its layers and, for the tiler, its geometry."""
    layers: tuple

    @property
    def stride(self) -> int:
        """Input pixels per output pixel (pools minus upsamplings, as a factor)."""
        s = 1.0
        for layer in self.layers:
            s *= 2 if layer[0] == "pool" else 0.5 if layer[0] == "up" else 1
        return s

    @property
    def reach(self) -> float:
        """How far, in input pixels, a window's edge spoils the output: the padding a
        convolution applies at the edge spoils its first row, each later convolution one
        row more, an aligned 2×2 pool halves the count (rounding up), an upsampling
        doubles it. Outputs further in than this are exactly what the whole image gives,
        so it is the halo a tile needs (`halo`); tests/test_engine.py checks that it is
        enough and that one output row less is not."""
        rows, jump = 0, 1.0  # spoiled rows at the current layer's resolution; input px per row
        for layer in self.layers:
            if layer[0] == "conv":
                rows += layer[4] // 2
            elif layer[0] == "pool":
                rows, jump = -(-rows // 2), jump * 2
            elif layer[0] == "up":
                rows, jump = rows * 2, jump / 2
        return rows * jump

    @property
    def channels(self) -> int:
        """Channels of the part's output (its last convolution's)."""
        return [layer for layer in self.layers if layer[0] == "conv"][-1][3]

    def halo(self, multiple: int = 1) -> int:
        """Halo in input pixels: the reach, rounded up to `multiple` (an encoder's stride,
        so that its pools see the same 2×2 cells as the whole image's)."""
        return int(ceil(self.reach / multiple) * multiple)

    def convs(self) -> list[str]:
        """The convolutions' names, in network order."""
        return [layer[1] for layer in self.layers if layer[0] == "conv"]

    def params(self) -> dict[str, tuple]:
        """Parameter name → shape, in PyTorch's layout."""
        out = {}
        for layer in self.layers:
            if layer[0] == "conv":
                _, name, cin, cout, k, _ = layer
                out[f"{name}.weight"] = (cout, cin, k, k)
                out[f"{name}.bias"] = (cout,)
        return out


@dataclass(frozen=True)
class Model:
    """One weight file: the parts it holds, plus dense layers (name → (out, in))."""
    file: str
    parts: dict
    dense: dict

    def params(self) -> dict[str, tuple]:
        out = {}
        for part in self.parts.values():
            out.update(part.params())
        for name, (o, i) in self.dense.items():
            out[f"{name}.weight"] = (o, i)
            out[f"{name}.bias"] = (o,)
        return out


def _linear_model(layer, c, name="linear"):
    return Model(
        file=f"{name}_{layer}.safetensors",
        parts={"cnet": Part(tuple(_matrix_net("cnet", c))),
               "snet": Part(tuple(_matrix_net("snet", c)))},
        dense={"cnet.fc": (MATRIX * MATRIX, MATRIX * MATRIX),
               "snet.fc": (MATRIX * MATRIX, MATRIX * MATRIX),
               "compress": (MATRIX, c), "unzip": (c, MATRIX)},
    )


MODELS = {
    "vgg19": Model("vgg19_relu4_1.safetensors", {"encoder": Part(tuple(VGG_R41))}, {}),
    # The authors' normalised VGG-19 to relu3_1 (Li et al. 2019): our VGG-19 with each
    # filter rescaled to mean activation 1, so its features differ by one scale per channel.
    "encoder_r31": Model("encoder_r31.safetensors", {"encoder": Part(tuple(VGG_R31))}, {}),
    # The same continued to relu4_1 with our VGG-19's layers, exactly rescaled
    # (core/training/encoder.py): relu4_1 differs from VGG-19's by one scale per channel.
    "encoder_r41": Model("encoder_r41.safetensors", {"encoder": Part(tuple(VGG_R41))}, {}),
    "decoder_r31": Model("decoder_r31.safetensors", {"decoder": Part(tuple(DECODER_R31))}, {}),
    "decoder_r41": Model("decoder_r41.safetensors", {"decoder": Part(tuple(DECODER_R41))}, {}),
    "linear_r31": _linear_model("r31", 256),
    # CCPL at relu3_1 (Wu et al. 2022 applied to Linear's module, as their paper does):
    # Linear's architecture trained with the contrastive coherence loss added.
    "ccpl_r31": _linear_model("r31", 256, "ccpl"),
    # ... and, as Wu et al. train it, with a decoder of its own (from the published one).
    "ccpl_decoder_r31": Model("ccpl_decoder_r31.safetensors", {"decoder": Part(tuple(DECODER_R31))}, {}),
    # Linear at relu3_1 with a decoder of its own, trained as ccpl-r31's is but without the
    # CCP loss, so that linear-r31 against ccpl-r31 measures that loss alone.
    "linear_decoder_r31": Model("linear_decoder_r31.safetensors", {"decoder": Part(tuple(DECODER_R31))}, {}),
    "linear_r41": _linear_model("r41", 512),
    # Linear at relu4_1 with a decoder of its own, trained as ccpl's is but without the CCP
    # loss: the shared decoder_r41 (24 dB) held linear-r41's style ratio at twice ccpl's.
    "linear_decoder_r41": Model("linear_decoder_r41.safetensors", {"decoder": Part(tuple(DECODER_R41))}, {}),
    # CCPL at relu4_1: the same, one layer deeper, and, as Wu et al. train it, with a
    # decoder of its own trained together with the transformation (from decoder_r41's).
    "ccpl_r41": _linear_model("r41", 512, "ccpl"),
    "ccpl_decoder_r41": Model("ccpl_decoder_r41.safetensors", {"decoder": Part(tuple(DECODER_R41))}, {}),
}

ENCODERS = {"r31": Part(tuple(VGG_R31)), "r41": Part(tuple(VGG_R41))}
# The weight file each encoder reads: the published normalised VGG at relu3_1, and its
# continuation to relu4_1. Our raw VGG-19 ("vgg19") is the training losses' judge.
ENCODER_WEIGHTS = {"r31": "encoder_r31", "r41": "encoder_r41"}

# Wrap mode → (wrap_x, wrap_y): "x" joins the ±180° meridian, "both" makes textures tile.
# The networks' padding follows it (circular on wrapped axes), and so does the tiler.
WRAPS = {"none": (False, False), "x": (True, False), "both": (True, True)}


@dataclass(frozen=True)
class Net:
    """One network a backend runs: the part `part_name` of the model whose weights are
    `key`, or the encoder at `layer`. Its text form names the shipped ONNX graphs."""
    key: str
    part_name: str
    layer: str | None = None  # encoders only: "r31" | "r41"

    @classmethod
    def encoder(cls, layer: str) -> "Net":
        return cls(ENCODER_WEIGHTS[layer], "encoder", layer)

    @classmethod
    def of(cls, key: str, part_name: str) -> "Net":
        return cls(key, part_name)

    @property
    def part(self) -> Part:
        return ENCODERS[self.layer] if self.layer else MODELS[self.key].parts[self.part_name]

    @property
    def preprocess(self) -> bool:
        """Encoders take sRGB in [0, 1] and apply the Caffe preprocessing themselves."""
        return self.layer is not None

    def __str__(self) -> str:
        return f"encoder_{self.layer}" if self.layer else f"{self.key}.{self.part_name}"
