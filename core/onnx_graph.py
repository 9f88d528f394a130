"""ONNX graphs of the network parts, written from the tables in `architecture.py`.

The bytes are produced here, by a small protobuf writer, rather than by torch's exporter
or the `onnx` package: the extension must build graphs for untrained (random) weights
at run time with numpy alone, and the shipped files (scripts/export_onnx.py) come out
byte-for-byte the same on every run.

One graph per (part, wrap mode), channels-last in and out like the torch backend:
"x" (N, H, W, C) float32 → "y" (N, H', W', C'), H and W free. Padding is explicit:
reflection (the papers') or zeros (Linear's matrix nets), circular on wrapped axes,
which is what `nets.PadConv` computes. Weights are initializers, either embedded
(float32) or, for shipped files, pointing into the safetensors file in place (ONNX
external data, with a Cast where the file stores float16), so nothing is stored twice.
"""
from __future__ import annotations


import numpy as np

from .architecture import CAFFE_MEAN_BGR, Part
from .safetensors_file import Tensor
from .tiling import WRAPS

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


def _conv(g: _Graph, x: str, w: str, b: str, k: int, pad: str | None, wrap: str) -> str:
    if pad is None or k == 1:
        return g.op("Conv", [x, w, b], kernel_shape=[k, k])
    wrap_x, wrap_y = WRAPS[wrap]
    base = "reflect" if pad == "image" else "constant"
    mode_y, mode_x = ("circular" if wrap_y else base), ("circular" if wrap_x else base)
    if mode_y == mode_x == "constant":
        return g.op("Conv", [x, w, b], kernel_shape=[k, k], pads=[1, 1, 1, 1])
    if mode_y == mode_x == "reflect":
        return g.op("Conv", [g.op("Pad", [x, g.const(_i64(0, 0, 1, 1, 0, 0, 1, 1))], mode="reflect"), w, b],
                    kernel_shape=[k, k])
    # Mixed: y first, then x over the padded rows (corners as PadConv makes them);
    # zero borders are left to the convolution itself.
    conv_pads = [0, 0, 0, 0]  # top, left, bottom, right
    for axis, mode in ((2, mode_y), (3, mode_x)):
        if mode == "constant":
            conv_pads[axis - 2] = conv_pads[axis] = 1
        else:
            x = _pad_axis(g, x, axis, mode)
    return g.op("Conv", [x, w, b], kernel_shape=[k, k], pads=conv_pads)


def model_bytes(part: Part, wrap: str, weights: dict, *, preprocess: bool = False,
                doc: str = "") -> bytes:
    """The ONNX ModelProto of one part in one wrap mode.

    `weights`: parameter name → float32 array (embedded), or → (safetensors file name,
    `Tensor`) to point into that file. `preprocess`: the Caffe 1×1 conv in front (the
    VGG encoder), as `nets.caffe_preprocess`.
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

    x = g.op("Transpose", ["x"], perm=[0, 3, 1, 2])
    if preprocess:
        w = np.zeros((3, 3, 1, 1), np.float32)
        for out_c, in_c in ((0, 2), (1, 1), (2, 0)):
            w[out_c, in_c] = 255.0
        x = g.op("Conv", [x, g.const(w), g.const(-np.array(CAFFE_MEAN_BGR, np.float32))], kernel_shape=[1, 1])
    for layer in part.layers:
        kind = layer[0]
        if kind == "conv":
            _, name, _, _, k, pad = layer
            x = _conv(g, x, param(f"{name}.weight"), param(f"{name}.bias"), k, pad, wrap)
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
    back: onnxruntime's vectorised conversion, for `buffers.set_fast_cast`."""
    src, dst = (_FLOAT, _FLOAT16) if to_half else (_FLOAT16, _FLOAT)
    graph = (_bytes(1, _node("Cast", ["x"], ["y"], to=dst)) + _bytes(2, "brushwork-cast")
             + _bytes(11, _value_info("x", ["n"], src)) + _bytes(12, _value_info("y", ["n"], dst)))
    return _model_proto(graph)
