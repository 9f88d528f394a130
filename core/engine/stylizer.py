"""Image in → encode → global statistics → transform → decode → image out.

`Stylizer` holds one method's networks and a cache of style sides, so an animation or a
texture set pays for each style once. Work goes tile by tile in three stages:
  1. encode tiles (halo ≥ the encoder's receptive field) into one feature map,
  2. global content statistics over that map, then the transform, built once,
  3. decode tiles (halo ≥ the decoder's receptive field), feathered into the output.
Feature maps and outputs beyond a size limit live in memory-mapped anonymous temp files
(core/mem/buffers.py), so memory stays bounded by the tile size; a large result comes back
still memory-mapped, and its file goes away with the array, however the job ends.
A backend that keeps maps on its accelerator (torch on CUDA) holds the image and the
feature map there instead (core/mem/arrays.py names the few operations that differ).
"""
from __future__ import annotations

import collections
import functools
import hashlib
import math
from dataclasses import dataclass, replace
from math import ceil
from typing import Callable

import numpy as np

from ..mem import allocator, arrays
from .. import backends
from ..engine import tiling
from ..nets import weights
from ..mem.buffers import buffer, fast_cast, release
from ..nets.architecture import WRAPS, Net
from ..errors import BrushworkError, Cancelled, SettingError
from ..engine.methods import (METHODS, PREFERENCE, ContentSide, StyleSide, Transform, content_side,
                                 pooled_content_side, style_side)
from ..engine.resample import resize
from ..engine.tileable import detect_wrap, resolve_wrap

STYLE_SIZE = 512        # style images are seen with their short side at most this
MIN_STYLE_SIDE = 64
MIN_CONTENT_SIDE = 32
DEVICES = ("auto", "cpu", "cuda")
FEATHER_PX = 8          # width of the blend band on each side of a decode-tile seam (below fp32)

Progress = Callable[[float, str], None]


@dataclass
class Settings:
    strength: float = 1.0
    style_scale: float = 1.0   # stroke size: 2 paints strokes twice as large
    # core tile size in processing pixels; 0 = whole image. 512: on a CPU as fast as 1024 or
    # faster (a tile's activations stay nearer the caches) in two thirds of the memory
    tile: int = 512
    wrap: str = "none"         # none | x (equirect panorama) | both (tileable texture) | auto
    style_weights: list[float] | None = None

    def check(self, styles: int | None = None):
        """Refuse out-of-range settings; with `styles`, also a style-weight list that does not fit."""
        if not 0 <= self.strength <= 1:
            raise SettingError("strength", self.strength, "must be between 0 and 1")
        if not 0.125 <= self.style_scale <= 8:
            raise SettingError("style_scale", self.style_scale, "must be between 0.125 and 8")
        if self.tile < 0 or 0 < self.tile < 128:
            raise SettingError("tile", self.tile, "use 0 (whole image) or at least 128")
        if self.wrap not in (*WRAPS, "auto"):
            raise SettingError("wrap", self.wrap, "use none, x, both or auto")
        w = self.style_weights
        if styles is not None and w is not None and (len(w) != styles or min(w) < 0 or sum(w) <= 0
                                                          or not all(map(math.isfinite, w))):
            raise SettingError("style_weights", w, f"{len(w)} weight(s) for {styles} style(s); "
                               "give one finite, non-negative weight per style, not all zero")


def default_method() -> str:
    """The best-measured method whose weights are all trained (PREFERENCE's order)."""
    for name in PREFERENCE:
        if METHODS[name].trained:
            return name
    return PREFERENCE[0]


def check_choices(method: str, device: str) -> None:
    """Method and device names, checked before anything is loaded."""
    if method not in METHODS:
        raise SettingError("method", method, f"choose one of {', '.join(METHODS)}")
    if device not in DEVICES:
        raise SettingError("device", device, f"choose one of {', '.join(DEVICES)}")


def check_content(rgb: np.ndarray, name: str) -> None:
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_CONTENT_SIDE:
        raise BrushworkError(f"{name}: image is {w}×{h}; at least {MIN_CONTENT_SIDE} px per side is needed")


def part(progress: Progress | None, start: float, end: float, name: str | None = None) -> Progress | None:
    """Progress for one part of a job: its own 0..1 mapped onto [start, end] of the
    whole; with `name`, reported under that name (a frame's) instead of its own stages."""
    if progress is None:
        return None
    return lambda fraction, stage: progress(start + (end - start) * fraction, name or stage)


@dataclass
class _Stage:
    """Maps one stage's own 0..1 progress onto the job's overall fraction."""
    report: Progress | None
    cancel: Callable[[], bool] | None
    start: float = 0.0
    span: float = 1.0
    name: str = ""

    def __call__(self, done: float) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled()
        if self.report is not None:
            self.report(self.start + self.span * done, self.name)

    def sub(self, start: float, span: float, name: str) -> "_Stage":
        return _Stage(self.report, self.cancel, self.start + self.span * start, self.span * span, name)


def _casting(method):
    """Run a Stylizer method with its backend's float16 <-> float32 conversion lent to
    the buffers (core/mem/buffers.py's `fast_cast`)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with fast_cast(self.backend.cast):
            return method(self, *args, **kwargs)
    return wrapper


class Stylizer:
    """One method's networks on one backend, with a style cache."""

    def __init__(self, method: str = "linear-r41", device: str = "auto",
                 allow_untrained: bool = False, backend="auto", precision: str = "auto",
                 learned: dict | None = None):
        """`backend`: "auto" (torch if installed, else onnxruntime), "torch", "onnx", or a
        backend object. `precision`: auto (fp16 on CUDA, fp32 elsewhere; WCT: fp32), fp32,
        bf16 (not WCT), fp16. `learned`: registry key → arrays merged over the shipped
        weights (a painting's learned weights, core/nets/learned.py)."""
        check_choices(method, device)
        self.method = METHODS[method]
        precision = method_precision(self.method, method, precision)
        self.weights, self.untrained = {}, []
        for key in self.method.models:
            try:
                self.weights[key], trained = weights.resolve(key, allow_untrained=allow_untrained)
            except BrushworkError as e:
                if weights.is_trained(key):
                    raise BrushworkError(f"method {method}: {e}") from None
                raise BrushworkError(f"method {method}: {e}; random weights run only where allowed, "
                                     "for tests", "allow_untrained") from None
            if not trained:
                self.untrained.append(key)
        for key, tuned in (learned or {}).items():   # onnxruntime: graphs built from them, as untrained ones are
            self.weights[key] = {**self.weights[key], **tuned}
        if backend is None or isinstance(backend, str):
            backend = backends.create(backend or "auto", self.weights, device,
                                      tuple(self.untrained) + tuple(learned or ()), precision)
        self.backend = backend
        self.batch = max(1, backend.batch)
        self._styles: dict[str, StyleSide] = {}

    @_casting
    def style(self, rgb: np.ndarray, name: str = "style") -> StyleSide:
        """The style side of an (H, W, 3) sRGB image, computed once per distinct image."""
        check_style(rgb, name)
        key = hashlib.sha256(np.ascontiguousarray(rgb).data).hexdigest() + str(rgb.shape)
        if key not in self._styles:
            h, w = rgb.shape[:2]
            scale = min(1.0, STYLE_SIZE / min(h, w))
            if scale < 1:
                rgb = resize(rgb, (max(1, round(h * scale)), max(1, round(w * scale))))
            self._styles[key] = style_side(self.method, self.backend, self.weights, rgb)
        return self._styles[key]

    @_casting
    def content(self, rgb: np.ndarray, settings: Settings) -> ContentSide:
        """An image's global content statistics alone (one encode pass, no decode).

        Averaged over a few frames (`methods.average_content`) and passed to `run` for
        every frame, they give a whole sequence one transformation: no frame-to-frame
        drift of colour or stroke placement from statistics that wobble."""
        return self.pooled_content([rgb], settings)

    @_casting
    def pooled_content(self, images, settings: Settings, progress: Progress | None = None,
                       cancel: Callable[[], bool] | None = None) -> ContentSide:
        """The content statistics of several images as one (the tiles of a UDIM set, the
        base colours of a scene's materials): each encoded at its own size and wrap
        ("auto" decided per image), the sums pooled by position as if the maps lay side
        by side. Passed to `run` for each image, it gives them one transformation, so a
        wall and the door in it take the same palette. `images`: (H, W, 3) sRGB arrays,
        best a generator (one picture in memory at a time; the feature maps are kept
        until the statistics are done, memory-mapped when large)."""
        maps = []
        stage = _Stage(progress, cancel, name="statistics")
        for rgb in images:
            check_content(rgb, "content")
            wrap = resolve_wrap(settings.wrap, rgb)
            each = replace(settings, wrap=wrap)
            size = processing_size(*rgb.shape[:2], settings.style_scale, wrap, self.method.stride)
            maps.append((self._encode(resize(rgb, size, wrap), each, _Stage(None, None)), wrap))
            stage(0.9 * (1 - 1 / (len(maps) + 1)))  # the count is unknown ahead: approach 0.9
        side = pooled_content_side(self.method, self.backend, self.weights, maps,
                                   settings.tile // self.method.stride)
        stage(1.0)
        return side

    @_casting
    def run(self, rgb: np.ndarray, styles: list[StyleSide], settings: Settings,
            progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
            content: ContentSide | None = None) -> np.ndarray:
        """Stylize an (H, W, 3) sRGB image in [0, 1]; returns the same shape, not clipped.

        A large result is a memory-mapped array (`buffers.is_mapped`): read it in bands
        rather than copying it whole. `content`: statistics to use instead of this
        image's own (see `content`)."""
        settings.check(len(styles))
        check_content(rgb, "content")
        if settings.wrap == "auto":
            settings = replace(settings, wrap=detect_wrap(rgb))
        h, w = rgb.shape[:2]
        weights_ = settings.style_weights or [1.0] * len(styles)
        stage = _Stage(progress, cancel)
        size = processing_size(h, w, settings.style_scale, settings.wrap, self.method.stride)
        work = resize(rgb, size, settings.wrap)
        feats = self._encode(work, settings, stage.sub(0.0, 0.5, "encode"))
        del work
        if content is None:
            content = content_side(self.method, self.backend, self.weights, feats,
                                   settings.wrap, settings.tile // self.method.stride)
        stage.sub(0.5, 0.05, "statistics")(1.0)
        transform = Transform(self.method, self.weights, content,
                              list(zip(styles, weights_)), settings.strength)
        out = self._decode(feats, transform, settings, stage.sub(0.55, 0.45, "decode"))
        del feats  # its temp file goes now, before the result is resized or written
        out = out[:size[0], :size[1]]  # the ceil-mode margin goes
        return resize(out, (h, w), settings.wrap)

    def _encode(self, img: np.ndarray, settings: Settings, stage: _Stage):
        """The feature map: on the backend's device where it keeps maps there and this one
        fits (with the image, sent over once), else a host buffer."""
        part, s = self.method.encoder, self.method.stride
        h, w = img.shape[:2]
        shape = (ceil(h / s), ceil(w / s), part.channels)
        feats = self._resident(shape, half=True)
        if feats is None:
            # Memory-mapped features are kept in float16 (half the file and page cache; the
            # result moves by far less than 1/255, tests/test_engine.py measures it).
            feats = buffer(shape, "features", mapped_dtype=np.float16)
        elif (on_device := self._resident(img.shape, half=False)) is not None:
            arrays.put(on_device, img)
            img = on_device
        wins = tiling.windows((h, w), settings.tile, part.halo(s), WRAPS[settings.wrap], align=s)
        for group, encoded in self._pipeline(Net.encoder(self.method.layer), wins,
                                             lambda win: win.read(img), settings.wrap, stage):
            touched = 0
            for win, result in zip(group, encoded):
                core = win.core(result, 1 / s)
                y, x = win.y.a // s, win.x.a // s
                dst = feats[y: y + core.shape[0], x: x + core.shape[1]]
                arrays.put(dst, core)
                touched += dst.nbytes
            release(feats, touched)
        return feats

    def _resident(self, shape: tuple, half: bool):
        """A zeroed array on the backend's device if it keeps maps there (torch on CUDA)
        and this one fits; else None. `half`: float16 storage allowed."""
        return self.backend.resident_array(shape, half)

    def _decode(self, feats, transform: Transform, settings: Settings, stage: _Stage) -> np.ndarray:
        net = Net.of(self.method.decoder, "decoder")
        part = net.part
        s = self.method.stride
        fh, fw, _ = feats.shape
        # In fp32 a tile's core is the whole image's to the rounding (its halo covers the
        # decoder's reach), so seams cannot show and neighbours need not overlap: 9 % less
        # decoding at 512-px tiles. Below fp32 they are blended across a band.
        band = 0 if getattr(self.backend, "precision", "fp32") == "fp32" else max(1, FEATHER_PX // s)
        out = buffer((fh * s, fw * s, 3), "output")
        tile = settings.tile // s if settings.tile else 0
        wins = tiling.windows((fh, fw), tile, part.halo(), WRAPS[settings.wrap], band=band)
        # The transform (every method's is affine) goes to the backend, which folds it
        # into the decoder's first convolution.
        # From a map on the device, the picture comes back to the host batch by batch (the
        # copy queued with its batch); it is 3 channels against the map's 256 or 512.
        back = {} if arrays.on_host(feats) else {"host": True}
        for group, decoded in self._pipeline(net, wins, lambda win: win.read(feats), settings.wrap,
                                             stage, affine=transform.affine, **back):
            for win, result in zip(group, decoded):
                win.blend_into(out, result, s)
            release(feats, sum(_window_bytes(win, feats) for win in group))
            release(out, sum(r.nbytes for r in decoded))
        return out

    def _pipeline(self, net: Net, wins: list, read, wrap: str, stage: _Stage, **options):
        """(windows, results) batch by batch. Where the backend queues work (torch on CUDA),
        the next batch is queued before the previous one's results are waited for, so an
        accelerator computes while the host reads and blends tiles: the only waits in
        the loop are for work already queued. Where it computes several batches at once
        (`lanes`: a CPU's tile threads), one more than that is kept queued, so a lane
        that finishes starts on the next tile while this thread blends. Results are
        arrays of the input's kind (host or device) unless `host=True` is among the
        options; they come in the windows' order whatever finishes first."""
        ahead = max(1, getattr(self.backend, "lanes", 1))
        # A lone tile goes on every core, not to one lane while the others wait
        lanes = {"background": True} if ahead > 1 and len(wins) > 1 else {}
        pending: collections.deque = collections.deque()
        for done, group in self._batches(wins):
            stage(done)
            allocator.tidy()
            # one tile (a CPU's batch): a view with a batch axis, not a copy of the tile
            x = read(group[0])[None] if len(group) == 1 else arrays.stack([read(win) for win in group])
            pending.append((group, self.backend.submit(net, x, wrap, **lanes, **options)))
            while len(pending) > ahead:
                group_, result = pending.popleft()
                yield group_, result()
        while pending:
            group_, result = pending.popleft()
            yield group_, result()
        stage(1.0)

    def _batches(self, wins: list):
        """(fraction done, windows): runs of same-shaped windows, `backend.batch` at a time.

        A GPU is fed several tiles per call; on a CPU one tile already fills the cores.
        """
        group: list = []
        for i, win in enumerate(wins):
            if group and (len(group) >= self.batch or win.shape != group[0].shape):
                yield (i - len(group)) / len(wins), group
                group = []
            group.append(win)
        if group:
            yield (len(wins) - len(group)) / len(wins), group


def _window_bytes(win, arr) -> int:
    """Bytes of `arr` a tile window reads (its source window, all channels)."""
    h, w = win.shape
    return h * w * arr.shape[2] * arr.itemsize


def method_precision(m, name: str, precision: str) -> str:
    """WCT whitens the content features: directions with little variance (flat areas,
    graphics) are scaled up, and low-precision rounding with them. Over the validation
    split, wct-r31 moved by up to 31/255 in bf16 and 2.9/255 in fp16 (linear-r31: 5.0 and
    0.5), so WCT runs fp32 unless fp16 is asked for by name, and never bf16."""
    if m.kind != "wct":
        return precision
    if precision == "bf16":
        raise SettingError("precision", "bf16", f"method {name} whitens its features, which magnifies "
                           "bf16's rounding (measured up to 31/255 off fp32 on flat areas); use fp32 "
                           "(or fp16, within 3/255)")
    return "fp32" if precision == "auto" else precision


def processing_size(h: int, w: int, style_scale: float, wrap: str, stride: int) -> tuple[int, int]:
    """The size the networks see: the image shrunk by the style scale; on a wrapped axis
    a multiple of the encoder's stride, so pooling lines up across the seam."""
    wrap_x, wrap_y = WRAPS[wrap]

    def side(n, wrapped):
        n = max(MIN_CONTENT_SIDE, round(n / style_scale))
        return max(stride, round(n / stride) * stride) if wrapped else n
    return side(h, wrap_y), side(w, wrap_x)


def check_style(rgb: np.ndarray, name: str) -> None:
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_STYLE_SIDE:
        raise BrushworkError(f"{name}: style image is {w}×{h}; it needs at least {MIN_STYLE_SIDE} px "
                             "per side to have any brushwork to transfer")
    step = max(1, int(np.sqrt(h * w / 65536)))
    if float(rgb[::step, ::step].std(axis=(0, 1)).max()) < 2 / 255:
        raise BrushworkError(f"{name}: style image is flat (one colour, no texture): nothing to transfer")
