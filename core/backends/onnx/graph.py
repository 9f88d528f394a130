"""ONNX graphs of the network parts, written from the tables in `architecture.py`.

The bytes are produced here, by a small protobuf writer, rather than by torch's exporter
or the `onnx` package: the extension must build graphs for untrained (random) weights
at run time with numpy alone, and the shipped files (scripts/export_onnx.py) come out
byte-for-byte the same on every run.

One graph per (part, wrap mode), channels-last in and out like the torch backend:
"x" (N, H, W, C) float32 → "y" (N, H', W', C'), H and W free. Padding is explicit:
reflection (the papers') or zeros (Linear's matrix nets), circular on wrapped axes,
which is what `nets.PadConv` computes; each nearest ×2 upsampling and the padded conv
after it are one 2×2 convolution at the low resolution and a DepthToSpace, as
`nets.UpConv` (`_up_conv`). Weights are initializers, either embedded
(float32) or, for shipped files, pointing into the safetensors file in place (ONNX
external data, with a Cast where the file stores float16), so nothing is stored twice.
"""
from __future__ import annotations


import numpy as np

from ...nets.architecture import CAFFE_MEAN_BGR, Part
from ...nets.safetensors_file import Tensor
from ...nets.architecture import WRAPS

OPSET = 17
IR_VERSION = 8
_FLOAT, _INT64, _FLOAT16 = 1, 7, 10
_ONNX_TYPE = {"F32": _FLOAT, "F16": _FLOAT16}


# --- protobuf wire format (only what ONNX's ModelProto needs) -----------------------

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 as two's complement
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    value = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(value)) + value


def _attr(name: str, value) -> bytes:
    """AttributeProto: int (type 2), ints (7) or string (3)."""
    if isinstance(value, str):
        return _bytes(1, name) + _bytes(4, value) + _int(20, 3)
    if isinstance(value, (list, tuple)):
        return _bytes(1, name) + b"".join(_int(8, v) for v in value) + _int(20, 7)
    return _bytes(1, name) + _int(3, value) + _int(20, 2)


def _node(op: str, inputs: list[str], outputs: list[str], **attrs) -> bytes:
    body = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
    body += _bytes(4, op) + b"".join(_bytes(5, _attr(k, v)) for k, v in sorted(attrs.items()))
    return body


def _tensor(name: str, array: np.ndarray) -> bytes:
    """TensorProto with raw little-endian data."""
    kind = {np.dtype(np.float32): _FLOAT, np.dtype(np.int64): _INT64}[array.dtype]
    dims = b"".join(_int(1, d) for d in array.shape)
    return dims + _int(2, kind) + _bytes(8, name) + _bytes(9, np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())


def _external(name: str, location: str, t: Tensor) -> bytes:
    """TensorProto whose data lies in another file (`location`, beside the graph)."""
    dims = b"".join(_int(1, d) for d in t.shape)
    entries = [("location", location), ("offset", str(t.offset)), ("length", str(t.length))]
    ext = b"".join(_bytes(13, _bytes(1, k) + _bytes(2, v)) for k, v in entries)
    return dims + _int(2, _ONNX_TYPE[t.dtype]) + _bytes(8, name) + ext + _int(14, 1)


def _value_info(name: str, dims: list, elem: int = _FLOAT) -> bytes:
    shape = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, elem) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


# --- the graph ------------------------------------------------------------------------

class _Graph:
    def __init__(self):
        self.nodes: list[bytes] = []
        self.inits: list[bytes] = []
        self._n = 0

    def name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def op(self, op: str, inputs: list[str], **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(_node(op, inputs, [out], **attrs))
        return out

    def const(self, array: np.ndarray) -> str:
        name = self.name("const")
        self.inits.append(_tensor(name, array))
        return name


def _i64(*v) -> np.ndarray:
    return np.array(v, dtype=np.int64)


def _pad_axis(g: _Graph, x: str, axis: int, mode: str) -> str:
    """One pixel on both sides of `axis` (2 = y, 3 = x), NCHW."""
    if mode == "circular":
        last = g.op("Slice", [x, g.const(_i64(-1)), g.const(_i64(2 ** 62)), g.const(_i64(axis))])
        first = g.op("Slice", [x, g.const(_i64(0)), g.const(_i64(1)), g.const(_i64(axis))])
        return g.op("Concat", [last, x, first], axis=axis)
    pads = [0] * 8
    pads[axis] = pads[axis + 4] = 1
    return g.op("Pad", [x, g.const(_i64(*pads))], mode=mode)


def _modes(pad: str, wrap: str, small: bool = False) -> tuple[str, str]:
    """(y, x) border modes of a padded conv. `small`: of the map before a nearest ×2
    upsampling, where the upsampled map's reflection is the small map's edge replication."""
    wrap_x, wrap_y = WRAPS[wrap]
    base = "constant" if pad != "image" else "edge" if small else "reflect"
    return ("circular" if wrap_y else base), ("circular" if wrap_x else base)


def _pad(g: _Graph, x: str, modes: tuple[str, str], axes: tuple[int, int] = (2, 3)
         ) -> tuple[str, list[int] | None]:
    """`x` padded by one pixel in `modes` (y, x) along `axes` (y, x), and the pads its conv
    adds itself (zero borders are left to the convolution; None where one Pad node did
    both axes)."""
    mode_y, mode_x = modes
    if mode_y == mode_x == "constant":
        return x, [1, 1, 1, 1]
    if mode_y == mode_x != "circular":
        pads = [0] * 8
        for axis in axes:
            pads[axis] = pads[axis + 4] = 1
        return g.op("Pad", [x, g.const(_i64(*pads))], mode=mode_y), None
    # Mixed: y first, then x over the padded rows (corners as PadConv makes them).
    conv_pads = [0, 0, 0, 0]  # top, left, bottom, right
    for i, (axis, mode) in enumerate(zip(axes, modes)):
        if mode == "constant":
            conv_pads[i] = conv_pads[i + 2] = 1
        else:
            x = _pad_axis(g, x, axis, mode)
    return x, conv_pads


def _nchw(g: _Graph, x: str) -> str:
    return g.op("Transpose", [x], perm=[0, 3, 1, 2])


def _conv(g: _Graph, x: str, w: str, b: str, k: int, modes: tuple[str, str],
          nhwc: bool = False) -> str:
    """A k×k convolution, padded by one pixel in `modes` (y, x). `nhwc`: `x` is the
    graph's channels-last input, padded before its Transpose, which onnxruntime then
    merges into its own layout change (one pass over the input fewer)."""
    x, pads = _pad(g, x, modes, (1, 2) if nhwc else (2, 3))
    x = _nchw(g, x) if nhwc else x
    return g.op("Conv", [x, w, b], kernel_shape=[k, k], **({} if pads is None else {"pads": pads}))


THIN = 4  # a 3×3 convolution with at most this many outputs runs as `_thin_conv`


def _thin_conv(g: _Graph, x: str, w: str, b: str, cout: int, modes: tuple[str, str]) -> str:
    """A padded 3×3 convolution to a few channels (the decoder's last, to RGB), as the
    torch backend's `PadConv._thin`: a 1×1 convolution gives each pixel's product with
    all 9 taps (9·cout channels, a matrix product at full rate, where a direct kernel
    with 3 outputs runs far below it), that map is padded (the products of a padded input
    are the padded products), and the output is the sum of 9 shifted crops of it."""
    taps = g.op("Reshape", [g.op("Transpose", [w], perm=[2, 3, 0, 1]), g.const(_i64(9 * cout, -1, 1, 1))])
    p = g.op("Conv", [x, taps], kernel_shape=[1, 1])
    p, pads = _pad(g, p, modes)
    if pads is not None:  # the zero borders `_pad` leaves to a convolution: here a Pad of their own
        p = g.op("Pad", [p, g.const(_i64(0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]))], mode="constant")
    crops = []
    for ky in range(3):
        for kx in range(3):
            c0 = (ky * 3 + kx) * cout
            end_y, end_x = ky - 2 or 2 ** 62, kx - 2 or 2 ** 62
            crops.append(g.op("Slice", [p, g.const(_i64(c0, ky, kx)), g.const(_i64(c0 + cout, end_y, end_x)),
                                        g.const(_i64(1, 2, 3))]))
    return g.op("Add", [g.op("Sum", crops), g.op("Reshape", [b, g.const(_i64(1, cout, 1, 1))])])


# Taps of the 3×3 kernel that land on each of a phase's 2 input rows, along one axis:
# output row 2i reads small rows (i−1, i) with (w0, w1+w2), row 2i+1 reads (i, i+1) with
# (w0+w1, w2). Indexed (phase, tap, k), as nets.UpConv's `fold`.
_FOLD = np.array([[[1, 0, 0], [0, 1, 1]], [[1, 1, 0], [0, 0, 1]]], np.float32)


def _fold_matrix() -> np.ndarray:
    """(9, 16): a 3×3 kernel's taps (ky, kx) → the 2×2 kernels of the four phases, in
    DepthToSpace block order (sy, sx, a, b). Block row sy holds phase 1 − sy: the 2×2
    conv's output pixel r covers output rows 2r − 1 (phase 1) and 2r (phase 0), so
    the interleaved map is the wanted one shifted down/right by one (see `_up_conv`)."""
    phase = _FOLD[::-1]  # block index → phase 1 − block
    m = np.einsum("yak,xbl->klyxab", phase, phase)  # (ky, kx, sy, sx, a, b)
    return np.ascontiguousarray(m.reshape(9, 16))


def _up_conv(g: _Graph, x: str, w: str, b: str, cin: int, cout: int, modes: tuple[str, str],
             relu: bool) -> str:
    """Nearest ×2 upsampling then the padded 3×3 conv `w`, as nets.UpConv: one 2×2 conv
    with 4·cout outputs at the low resolution (4 instead of 9 multiply-adds per output,
    no upsampled copy), its phases interleaved by DepthToSpace. The phase kernels are
    computed in the graph from `w` (an initializer in the weight file, so onnxruntime
    folds them once at session creation).

    The small map is padded by one on both sides; the 2×2 conv then gives (h+1, w+1)
    blocks whose interleaving (2h+2, 2w+2) is the output with one extra pixel all
    round: a single Slice crops it, instead of one per phase and a Concat.
    """
    k = g.op("MatMul", [g.op("Reshape", [w, g.const(_i64(cout * cin, 9))]), g.const(_fold_matrix())])
    k = g.op("Transpose", [g.op("Reshape", [k, g.const(_i64(cout, cin, 4, 2, 2))])], perm=[2, 0, 1, 3, 4])
    k = g.op("Reshape", [k, g.const(_i64(4 * cout, cin, 2, 2))])
    bias = g.op("Concat", [b] * 4, axis=0)
    y = _conv(g, x, k, bias, 2, modes)  # padded by one: (N, 4·cout, h+1, w+1)
    if relu:
        y = g.op("Relu", [y])
    y = _interleave(g, y, cout)
    return g.op("Slice", [y, g.const(_i64(1, 1)), g.const(_i64(-1, -1)), g.const(_i64(2, 3))])


def _interleave(g: _Graph, y: str, c: int) -> str:
    """DepthToSpace (blocks of 2, DCR) as two transposes that each move one axis inwards:
    columns interleaved, then rows. onnxruntime's DepthToSpace is a general 6-D
    transpose, 2.7× slower than these (88 of a 358-ms decoder tile at 512 px)."""
    shape = g.op("Shape", [y])
    n, h, w = (g.op("Slice", [shape, g.const(_i64(i)), g.const(_i64(i + 1))]) for i in (0, 2, 3))
    ch = g.op("Mul", [h, g.const(_i64(c))])
    # (N, py, px, C·h, w) → (N, py, C·h, w, px): each row's two column phases side by side
    y = g.op("Reshape", [y, g.op("Concat", [n, g.const(_i64(2, 2)), ch, w], axis=0)])
    y = g.op("Transpose", [y], perm=[0, 1, 3, 4, 2])
    # (N, py, C, h, 2w) → (N, C, h, py, 2w): then the two row phases
    w2 = g.op("Mul", [w, g.const(_i64(2))])
    y = g.op("Reshape", [y, g.op("Concat", [n, g.const(_i64(2, c)), h, w2], axis=0)])
    y = g.op("Transpose", [y], perm=[0, 2, 3, 1, 4])
    h2 = g.op("Mul", [h, g.const(_i64(2))])
    return g.op("Reshape", [y, g.op("Concat", [n, g.const(_i64(c)), h2, w2], axis=0)])


def _steps(layers: tuple, fuse_up: bool) -> list[tuple]:
    """The table's layers, each "up" then padded 3×3 "conv" (then "relu") as one
    ("upconv", conv layer, relu?) step where `fuse_up`."""
    out, i = [], 0
    while i < len(layers):
        conv = layers[i + 1] if i + 1 < len(layers) else ("",)
        if fuse_up and layers[i][0] == "up" and conv[0] == "conv" and conv[4] == 3:
            relu = i + 2 < len(layers) and layers[i + 2][0] == "relu"
            out.append(("upconv", conv, relu))
            i += 3 if relu else 2
        else:
            out.append(layers[i])
            i += 1
    return out


def model_bytes(part: Part, wrap: str, weights: dict, *, preprocess: bool = False,
                doc: str = "", fuse_up: bool = True) -> bytes:
    """The ONNX ModelProto of one part in one wrap mode.

    `weights`: parameter name → float32 array (embedded), or → (safetensors file name,
    `Tensor`) to point into that file. `preprocess`: the Caffe 1×1 conv in front (the
    VGG encoder), as `nets.caffe_preprocess`. `fuse_up=False`: each upsampling as a
    Resize before its padded conv (the graphs as first published; tests compare).
    """
    g = _Graph()

    def param(name: str) -> str:
        value = weights[name]
        if isinstance(value, np.ndarray):
            g.inits.append(_tensor(name, value.astype(np.float32)))
            return name
        location, t = value
        g.inits.append(_external(name, location, t))
        return name if t.dtype == "F32" else g.op("Cast", [name], to=_FLOAT)

    steps = _steps(part.layers, fuse_up)
    first = steps[0]
    # A first conv with Pad nodes pads the channels-last input itself, then transposes it.
    pad_first = (not preprocess and first[0] == "conv" and first[4] == 3
                 and _modes(first[5], wrap) != ("constant", "constant"))
    x = "x" if pad_first else _nchw(g, "x")
    if preprocess:
        w = np.zeros((3, 3, 1, 1), np.float32)
        for out_c, in_c in ((0, 2), (1, 1), (2, 0)):
            w[out_c, in_c] = 255.0
        x = g.op("Conv", [x, g.const(w), g.const(-np.array(CAFFE_MEAN_BGR, np.float32))], kernel_shape=[1, 1])
    for layer in steps:
        kind = layer[0]
        if kind == "conv":
            _, name, _, cout, k, pad = layer
            if cout <= THIN and k == 3 and x != "x":
                x = _thin_conv(g, x, param(f"{name}.weight"), param(f"{name}.bias"), cout, _modes(pad, wrap))
                continue
            x = _conv(g, x, param(f"{name}.weight"), param(f"{name}.bias"), k, _modes(pad, wrap),
                      nhwc=x == "x")
        elif kind == "upconv":
            (_, name, cin, cout, _, pad), relu = layer[1:]
            x = _up_conv(g, x, param(f"{name}.weight"), param(f"{name}.bias"), cin, cout,
                         _modes(pad, wrap, small=True), relu)
        elif kind == "relu":
            x = g.op("Relu", [x])
        elif kind == "pool":
            x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
        elif kind == "up":
            x = g.op("Resize", [x, "", g.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest",
                     coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    g.nodes.append(_node("Transpose", [x], ["y"], perm=[0, 2, 3, 1]))
    cin = [layer for layer in part.layers if layer[0] == "conv"][0][2]
    graph = (b"".join(_bytes(1, n) for n in g.nodes) + _bytes(2, "brushwork")
             + b"".join(_bytes(5, t) for t in g.inits)
             + _bytes(11, _value_info("x", ["N", "H", "W", 3 if preprocess else cin]))
             + _bytes(12, _value_info("y", ["N", "H_out", "W_out", part.channels])))
    return _model_proto(graph, doc)


def _model_proto(graph: bytes, doc: str = "") -> bytes:
    """The ModelProto around a GraphProto: IR version, producer, doc string, opset."""
    return (_int(1, IR_VERSION) + _bytes(2, "brushwork") + (_bytes(6, doc) if doc else b"")
            + _bytes(7, graph) + _bytes(8, _bytes(1, "") + _int(2, OPSET)))


def cast_model_bytes(to_half: bool) -> bytes:
    """A one-node graph converting "x" (any length, 1-D) float32 → float16 (`to_half`) or
    back: onnxruntime's vectorised conversion, for `OnnxBackend.cast`."""
    src, dst = (_FLOAT, _FLOAT16) if to_half else (_FLOAT16, _FLOAT)
    graph = (_bytes(1, _node("Cast", ["x"], ["y"], to=dst)) + _bytes(2, "brushwork-cast")
             + _bytes(11, _value_info("x", ["n"], src)) + _bytes(12, _value_info("y", ["n"], dst)))
    return _model_proto(graph)
