"""Reading and writing images without losing what the file holds.

Pillow silently drops 16-bit PNG colour to 8 bits, so pixels are decoded by OpenCV
(PNG, JPEG, TIFF) and the OpenEXR bindings (EXR), and PNG is encoded by our own
`png` module; Pillow only reads headers (and decodes 8-bit gray+alpha TIFF, whose
alpha OpenCV drops). Both are optional: where they are missing (the Blender extension
ships neither) 8-bit PNG and JPEG are read and JPEG written through Pillow, and any
other file is an error naming it and the package it needs.
Every image comes back as float32 in RGB order with its storage type remembered,
so it can be written back the way it came.

Choices worth knowing:

* Files are read into memory and decoded with ``cv2.imdecode``, and encoded with
  ``cv2.imencode`` and written by Python, because ``cv2.imread``/``imwrite`` cannot
  open non-ASCII paths on Windows (think ``C:\\Users\\José``).
* Gray+alpha files come back with 2 channels (gray, alpha). OpenCV expands a
  gray+alpha PNG to 4 equal-gray channels; we fold it back. OpenCV drops the alpha
  of a gray+alpha TIFF, so 8-bit ones are decoded by Pillow and deeper ones are
  refused. OpenCV cannot encode 2 channels, so a 2-channel picture written to TIFF
  becomes RGBA with gray in R, G and B: same look, same alpha.
* PNG is written by ``core/media/png.py`` (8 and 16 bits, gray+alpha as it is), which
  deflates on every core: libpng takes one, the last second or two of a 4K job.
* Palette PNGs are expanded to RGB(A) and written back as plain 8-bit RGB(A).
* JPEG EXIF orientation is ignored (the pixels are taken as stored, as Blender does).
* TIFF is written with Deflate: OpenCV's default for float RGB is SGILOG, which is
  lossy and drops negatives. float16 is stored as float32 (OpenCV would make it 8-bit).
* EXR: only the first part's unprefixed R,G,B(,A) or Y(,A) channels are read; the
  data window's offset is not kept, and written files start at (0, 0).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
import struct
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..mem.buffers import bands, release
from ..errors import BrushworkError, warn
from ..media import chatter, png

try:  # optional: without them (the Blender extension) 8-bit PNG/JPEG go through Pillow
    import cv2
except ImportError:
    cv2 = None
try:
    import OpenEXR
except ImportError:
    OpenEXR = None
_PIP = {"cv2": "opencv-python-headless", "OpenEXR": "OpenEXR"}


def _need(module, name: str, label: str, what: str):
    """`module`, or an error naming the file and the package it needs."""
    if module is None:
        raise BrushworkError(f"{label}: {what} needs the {name} package, which is not installed "
                             f"(pip install {_PIP[name]}, or save the image as 8-bit PNG or JPEG)")
    return module

MAX_PIXELS = 16384 * 16384
SUPPORTED = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr")

_STORAGE = tuple(np.dtype(t) for t in ("uint8", "uint16", "float16", "float32"))
_EXR_MAGIC = b"\x76\x2f\x31\x01"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PIL_LOCK = threading.Lock()


@dataclass
class Picture:
    """Pixels as float32 (H, W, C) in RGB order, plus how the file stored them.

    C is 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA). Integer files are scaled to
    0..1; float files keep their raw (scene-linear) values.
    """

    pixels: np.ndarray
    dtype: np.dtype
    linear: bool
    path: str = ""

    def __post_init__(self):
        self.dtype = np.dtype(self.dtype)
        if self.dtype not in _STORAGE:
            raise ValueError(f"Picture.dtype must be uint8, uint16, float16 or float32, not {self.dtype}")
        if self.pixels.ndim != 3 or self.pixels.shape[2] not in (1, 2, 3, 4):
            raise ValueError(f"Picture.pixels must be (H, W, 1..4), not {self.pixels.shape}")

    @property
    def color(self) -> np.ndarray:
        """The colour channels, (H, W, 1) or (H, W, 3), as a view."""
        return self.pixels[..., :1] if self.pixels.shape[2] <= 2 else self.pixels[..., :3]

    @property
    def alpha(self) -> np.ndarray | None:
        """The alpha channel, (H, W) as a view, or None when the picture has none."""
        return self.pixels[..., -1] if self.pixels.shape[2] in (2, 4) else None


# --------------------------------------------------------------------------- helpers


def _label(path) -> str:
    """The name users see in messages: the path as they gave it, because texture sets
    reuse file names (basecolor.png) across folders and a bare name would not say which."""
    return os.fspath(path)


def _megapixels(n: int) -> str:
    if n >= 10_000_000:
        return f"{n / 1e6:.0f} Mpx"
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} Mpx"
    return f"{n} pixels"


def _check_source(path) -> str:
    """Refuse paths that cannot be an image before any decoder sees them."""
    label = _label(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise BrushworkError(f"{label}: file not found") from None
    except OSError as e:
        raise BrushworkError(f"{label}: cannot read ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise BrushworkError(f"{label}: is a folder, not an image")
    if st.st_size == 0:
        raise BrushworkError(f"{label}: empty file")
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in SUPPORTED and _sniff(path) is None:   # read by content: a name need not say
        raise BrushworkError(f"{label}: unsupported file type{f' {ext!r}' if ext else ' (no extension)'}, "
                             "and its content is none of PNG, JPEG, TIFF or EXR")
    return label


_MAGICS = {b"\x89PNG": "png", b"\xff\xd8\xff": "jpeg", _EXR_MAGIC: "exr", **{m: "tiff" for m in _TIFF_MAGICS}}


def _sniff(path) -> str | None:
    """The format a file's first bytes say it is (png, jpeg, tiff, exr), or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return None
    return next((kind for magic, kind in _MAGICS.items() if head.startswith(magic)), None)


@contextlib.contextmanager
def _pillow_unguarded():
    """Pillow raises on headers over ~179 Mpx; we apply our own limit (MAX_PIXELS) instead.

    The setting is global to Pillow, hence the lock and the restore.
    """
    with _PIL_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _tiff_tags(f, label: str) -> dict:
    """Width, height, samples per pixel, bits and sample format of the first page.

    Parsed by hand because Pillow does not recognise float RGB(A) TIFFs.
    """
    corrupt = BrushworkError(f"{label}: not a readable image (corrupt TIFF header)")
    head = f.read(16)
    order = "<" if head[:2] == b"II" else ">"
    try:
        version = struct.unpack(order + "H", head[2:4])[0]
        if version == 42:  # classic TIFF: 2-byte entry count, 4-byte count/value fields
            ifd, count_fmt, field_fmt = struct.unpack(order + "I", head[4:8])[0], "H", "I"
        elif version == 43:  # BigTIFF: 8-byte everything
            ifd, count_fmt, field_fmt = struct.unpack(order + "Q", head[8:16])[0], "Q", "Q"
        else:
            raise corrupt
        field = struct.calcsize(field_fmt)
        entry = 4 + 2 * field
        f.seek(ifd)
        n = struct.unpack(order + count_fmt, f.read(struct.calcsize(count_fmt)))[0]
        if ifd == 0 or n > 4096:
            raise corrupt
        table = f.read(n * entry)
        if len(table) < n * entry:
            raise corrupt
        wanted = {256: "width", 257: "height", 258: "bits", 277: "samples", 339: "format"}
        tags = {"samples": 1, "bits": 1, "format": 1}
        for i in range(n):
            e = table[i * entry:(i + 1) * entry]
            tag, kind = struct.unpack(order + "HH", e[:4])
            item = {3: "H", 4: "I", 16: "Q"}.get(kind)  # SHORT, LONG, LONG8
            if tag not in wanted or item is None:
                continue
            size = struct.calcsize(item)
            count = struct.unpack(order + field_fmt, e[4:4 + field])[0]
            value = e[4 + field:]  # values that fit are stored here, left-justified
            if count * size > field:  # stored elsewhere; the first value will do
                f.seek(struct.unpack(order + field_fmt, value)[0])
                value = f.read(size)
            tags[wanted[tag]] = struct.unpack(order + item, value[:size])[0]
    except struct.error:
        raise corrupt from None
    if "width" not in tags or "height" not in tags:
        raise corrupt
    return tags


def _header(path) -> tuple[int, int, str, dict]:
    """(width, height, kind, tiff tags) from the header; kind is 'exr', 'tiff' or 'other'.

    The format is sniffed from the content, so a mislabelled file still opens.
    """
    label = _check_source(path)
    tags: dict = {}
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
            f.seek(0)
            if magic == _EXR_MAGIC:
                kind = "exr"
                exr = _need(OpenEXR, "OpenEXR", label, "EXR")
                try:
                    with chatter.captured() as said:
                        window = exr.File(f, header_only=True).header()["dataWindow"]
                    (x0, y0), (x1, y1) = window
                    width, height = int(x1) - int(x0) + 1, int(y1) - int(y0) + 1
                except Exception:
                    raise BrushworkError(f"{label}: not a readable image (corrupt EXR header"
                                         f"{chatter.summary(said, 'OpenEXR', ', ')})") from None
            elif magic in _TIFF_MAGICS:
                kind = "tiff"
                tags = _tiff_tags(f, label)
                width, height = tags["width"], tags["height"]
            else:
                kind = "other"
                try:
                    with _pillow_unguarded(), Image.open(f) as im:
                        width, height = im.size
                except Exception:
                    raise BrushworkError(f"{label}: not a readable image (corrupt or unsupported format)") from None
    except OSError as e:
        raise BrushworkError(f"{label}: cannot read ({e.strerror or e})") from None
    if width <= 0 or height <= 0:
        raise BrushworkError(f"{label}: image has zero size ({max(width, 0)}×{max(height, 0)})")
    return width, height, kind, tags


# --------------------------------------------------------------------------- reading


def image_size(path) -> tuple[int, int]:
    """(width, height) from the header alone, so huge files can be judged cheaply."""
    width, height, _, _ = _header(path)
    return width, height


def read_image(path, *, max_pixels: int = MAX_PIXELS) -> Picture:
    """Decode an image into a Picture, refusing anything over max_pixels before decoding."""
    width, height, kind, tags = _header(path)
    label = _label(path)
    if width * height > max_pixels:
        raise BrushworkError(
            f"{label}: {width}×{height} ({_megapixels(width * height)}) is larger than "
            f"the {_megapixels(max_pixels)} limit"
        )
    if kind == "exr":
        return _read_exr(path, label)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BrushworkError(f"{label}: cannot read ({e.strerror or e})") from None
    # PNG colour type 4 (gray+alpha) arrives from OpenCV as gray,gray,gray,alpha.
    gray_alpha_png = data[:8] == b"\x89PNG\r\n\x1a\n" and data[25:26] == b"\x04"
    if kind == "tiff" and tags["samples"] == 2:
        arr = _read_gray_alpha_tiff(data, tags, label)
    elif cv2 is None:
        arr = _decode_with_pillow(data, kind, tags, label)
    else:
        with chatter.captured() as said:
            try:
                arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            except cv2.error:
                arr = None
        decoder = "libjpeg" if data[:2] == b"\xff\xd8" else "libpng" if kind == "other" else "libtiff"
        if arr is None:
            raise BrushworkError(f"{label}: not a readable image (corrupt, truncated or unsupported format"
                                 f"{chatter.summary(said, decoder, ', ')})")
        if said.last():
            warn(f"{label}: damaged, decoded anyway{chatter.summary(said, decoder)}")
    del data
    if arr.ndim == 2:
        arr = arr[..., None]
    channels = arr.shape[2]
    if arr.size == 0:
        raise BrushworkError(f"{label}: image has zero size ({arr.shape[1]}×{arr.shape[0]})")
    if channels not in (1, 2, 3, 4):
        raise BrushworkError(f"{label}: unexpected channel count {channels} (expected 1 to 4)")
    if channels == 4 and gray_alpha_png:
        arr = arr[..., [0, 3]]
        channels = 2

    if arr.dtype in (np.uint8, np.uint16):
        dtype = arr.dtype
        pixels = arr.astype(np.float32)
        pixels /= np.iinfo(dtype).max
    elif arr.dtype in (np.float16, np.float32, np.float64):
        dtype = np.dtype(np.float16) if arr.dtype == np.float16 else np.dtype(np.float32)
        pixels = arr.astype(np.float32)
    else:
        raise BrushworkError(f"{label}: unsupported sample type {arr.dtype} (use 8/16-bit or float images)")
    del arr
    if channels >= 3 and cv2 is not None:  # OpenCV's BGR(A) to RGB(A), in place
        blue = pixels[..., 0].copy()
        pixels[..., 0] = pixels[..., 2]
        pixels[..., 2] = blue
    if dtype.kind == "f":
        finite(pixels, label)
    return Picture(pixels, dtype, linear=dtype.kind == "f", path=os.fspath(path))


def finite(pixels: np.ndarray, label: str) -> np.ndarray:
    """`pixels` with NaN and infinite values replaced in place, with a warning saying how many.

    The engine's statistics are global: one NaN pixel would turn the whole result into
    NaN (written as black). NaN and -inf become 0, +inf the brightest finite value (what
    the renderer meant: very bright). Checked in row bands, so a 16K float picture needs
    no image-sized temporary."""
    h, w = pixels.shape[:2]
    bad, top = 0, 0.0
    for a, b in bands(h, w * pixels.shape[2] * 4):
        ok = np.isfinite(pixels[a:b])
        if not ok.all():
            bad += int((~ok).any(axis=-1).sum())
        if ok.any():
            top = max(top, float(pixels[a:b][ok].max()))
    if bad:
        for a, b in bands(h, w * pixels.shape[2] * 4):
            np.nan_to_num(pixels[a:b], copy=False, nan=0.0, posinf=top, neginf=0.0)
        warn(f"{label}: {bad} pixel(s) hold NaN or infinite values; read as 0 (NaN, -inf) "
             f"and as the brightest finite value {top:g} (+inf)")
    return pixels


def _decode_with_pillow(data: bytes, kind: str, tags: dict, label: str) -> np.ndarray:
    """8-bit PNG/JPEG without OpenCV, as OpenCV would give them but in RGB order
    (gray+alpha PNG as gray,gray,gray,alpha, folded back by the caller)."""
    if kind == "tiff":
        _need(None, "cv2", label, "TIFF")
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[24:25] == b"\x10" and data[25:26] != b"\x00":
        # Pillow reads 16-bit colour PNG (Blender's render saves) as its top 8 bits: plenty
        # for a painting, and better than refusing a render in the bundled extension.
        warn(f"{label}: 16-bit PNG read at 8-bit precision (opencv-python-headless reads all 16 bits)")
    try:
        with _pillow_unguarded(), Image.open(io.BytesIO(data)) as im:
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode == "LA":
                im = im.convert("RGBA")
            elif im.mode not in ("L", "RGB", "RGBA"):
                im = im.convert("RGB")
            return np.asarray(im)
    except BrushworkError:
        raise
    except Exception:
        raise BrushworkError(f"{label}: not a readable image (corrupt, truncated or unsupported format)") from None


def _read_gray_alpha_tiff(data: bytes, tags: dict, label: str) -> np.ndarray:
    """OpenCV drops the alpha of 2-sample TIFFs; Pillow keeps it for 8-bit ones."""
    if tags["bits"] == 8 and tags["format"] == 1:
        try:
            with _pillow_unguarded(), Image.open(io.BytesIO(data)) as im:
                if im.mode == "LA":
                    return np.asarray(im)
        except Exception:
            pass
        raise BrushworkError(f"{label}: not a readable image (corrupt gray+alpha TIFF)")
    raise BrushworkError(
        f"{label}: gray+alpha TIFF with {tags['bits']}-bit samples is not supported "
        "(save it as RGBA, or as 8-bit gray+alpha)"
    )


def _read_exr(path, label: str) -> Picture:
    """RGB(A) or Y(A) from the first part's default (unprefixed) layer."""
    _need(OpenEXR, "OpenEXR", label, "EXR")
    try:
        with open(path, "rb") as f, chatter.captured() as said:
            channels = OpenEXR.File(f, separate_channels=True).channels()
    except OSError as e:
        raise BrushworkError(f"{label}: cannot read ({e.strerror or e})") from None
    except Exception:
        raise BrushworkError(f"{label}: not a readable image (corrupt or truncated EXR"
                             f"{chatter.summary(said, 'OpenEXR', ', ')})") from None
    names = set(channels)
    if {"R", "G", "B"} <= names:
        use = ["R", "G", "B"]
    elif "Y" in names:
        if names & {"RY", "BY"}:
            raise BrushworkError(f"{label}: luminance/chroma (Y, RY, BY) EXR is not supported; save it as RGB")
        use = ["Y"]
    else:
        listed = sorted(names)
        shown = ", ".join(listed[:8]) + (f", … ({len(listed)} in all)" if len(listed) > 8 else "")
        raise BrushworkError(
            f"{label}: no colour channels (R,G,B or Y) in the default layer; it has: {shown or 'none'}"
        )
    if "A" in names:
        use.append("A")
    planes = [channels[name].pixels for name in use]
    shape = planes[0].shape
    for name, plane in zip(use, planes):
        if plane.ndim != 2 or plane.shape != shape:
            raise BrushworkError(f"{label}: subsampled EXR channels are not supported ({name})")
        if plane.dtype.kind != "f":
            raise BrushworkError(f"{label}: channel {name} holds integers, not colour")
    dtype = np.dtype(np.float16) if all(p.dtype == np.float16 for p in planes) else np.dtype(np.float32)
    pixels = np.empty(shape + (len(planes),), np.float32)
    for i, plane in enumerate(planes):
        pixels[..., i] = plane
    return Picture(finite(pixels, label), dtype, linear=True, path=os.fspath(path))


def read_render_passes(path, *, colour: bool = True) -> dict[str, np.ndarray]:
    """A Blender render saved as multilayer EXR: its first view layer's passes by name.

    {"Combined": (H, W, 3 or 4) linear, "Vector": (H, W, 4), "Depth": (H, W)}, each only
    when present. Channels are named `<layer>.<pass>.<channel>`; Blender 4.x writes them
    in one part, 5.x one part per pass, so every part is read. A plain RGB(A) EXR gives
    its colour as "Combined". `colour=False`: a file of motion passes only, no colour needed.
    """
    label = _label(path)
    _check_source(path)
    _need(OpenEXR, "OpenEXR", label, "EXR")
    try:
        with open(path, "rb") as f, chatter.captured() as said:
            parts = OpenEXR.File(f, separate_channels=True).parts
            channels = {name: ch.pixels for part in parts for name, ch in part.channels.items()}
    except OSError as e:
        raise BrushworkError(f"{label}: cannot read ({e.strerror or e})") from None
    except Exception:
        raise BrushworkError(f"{label}: not a readable EXR (corrupt or truncated"
                             f"{chatter.summary(said, 'OpenEXR', ', ')})") from None
    layers: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for name, plane in channels.items():
        layer, _, rest = name.rpartition(".")
        layer, _, pass_name = layer.rpartition(".") if layer else ("", "", "Depth" if rest == "Z" else "Combined")
        layers.setdefault(layer, {}).setdefault(pass_name, {})[rest] = plane
    layer = sorted(layers)[0]
    found = layers[layer]
    wanted = {"Combined": "RGBA", "Vector": "XYZW", "Depth": "Z"}
    out = {}
    for pass_name, order in wanted.items():
        planes = found.get(pass_name, {})
        use = [c for c in order if c in planes]
        if pass_name == "Combined" and colour and not {"R", "G", "B"} <= set(use):
            raise BrushworkError(f"{label}: no colour (Combined R, G, B) in layer '{layer or 'default'}'")
        if pass_name == "Vector" and use and len(use) != 4:
            raise BrushworkError(f"{label}: Vector pass has {len(use)} of 4 channels (X, Y, Z, W): "
                                 "save as multilayer EXR, which keeps all four")
        if len(use) >= (3 if pass_name == "Combined" else 1):
            stack = np.stack([planes[c].astype(np.float32) for c in use], axis=-1)
            if pass_name == "Combined":  # colour only: depth marks the sky as infinitely far on purpose
                finite(stack, label)
            out[pass_name] = stack[..., 0] if pass_name == "Depth" else stack
    return out


def write_render_passes(path, passes: dict[str, np.ndarray], layer: str = "ViewLayer") -> None:
    """Write passes as Blender names them in a multilayer EXR (one part, as Blender 4.x does):
    the inverse of read_render_passes, for synthetic sequences with known motion."""
    order = {"Combined": "RGBA", "Vector": "XYZW", "Depth": "Z"}
    planes = {}
    for name, data in passes.items():
        data = data[..., None] if data.ndim == 2 else data
        for i in range(data.shape[-1]):
            planes[f"{layer}.{name}.{order[name][i]}"] = np.ascontiguousarray(data[..., i], dtype=np.float32)
    _need(OpenEXR, "OpenEXR", _label(path), "EXR")
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    _atomic_write(path, _label(path), lambda f: OpenEXR.File(header, planes).write(f))


# --------------------------------------------------------------------------- writing


def write_image(path, picture: Picture, *, png_compression: int = 3, jpeg_quality: int = 95,
                xmp: bytes | None = None, overwrite: bool = True) -> None:
    """Write picture in the format the extension names, in its storage type, atomically.

    Anything the format cannot hold (alpha or 16-bit in JPEG, float in PNG) is an
    error rather than a silent loss. `overwrite=False` (what jobs pass unless the user
    asked) never replaces a file at `path`, even one that appeared while the picture was
    being encoded.
    """
    label = _label(path)
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in SUPPORTED:
        raise BrushworkError(f"{label}: unsupported file type '{ext}' (use PNG, JPEG, TIFF or EXR)")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BrushworkError(f"{label}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise BrushworkError(f"{label}: is a folder, not a file")
    pixels = np.asarray(picture.pixels)
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or pixels.size == 0:
        raise ValueError(f"picture pixels must be a non-empty (H, W, 1..4) array, not {pixels.shape}")
    dtype = np.dtype(picture.dtype)
    channels = pixels.shape[2]

    if ext == ".exr":
        if dtype.kind != "f":
            raise BrushworkError(
                f"{label}: EXR holds float data but this picture is {dtype} (convert it to float first)"
            )
        names = ("Y", "A") if channels <= 2 else ("R", "G", "B", "A")
        planes = {n: np.ascontiguousarray(pixels[..., i], dtype=dtype) for i, n in enumerate(names[:channels])}
        _need(OpenEXR, "OpenEXR", label, "EXR")
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}

        def write(f):
            try:
                OpenEXR.File(header, planes).write(f)
            except (RuntimeError, ValueError, TypeError) as e:
                raise BrushworkError(f"{label}: could not encode EXR ({e})") from None

        _atomic_write(path, label, write, overwrite)
        return

    if ext in (".jpg", ".jpeg"):
        if channels in (2, 4):
            raise BrushworkError(f"{label}: JPEG cannot hold alpha; save as PNG, TIFF or EXR")
        if dtype != np.uint8:
            raise BrushworkError(f"{label}: JPEG holds only 8-bit data, not {dtype}; save as PNG, TIFF or EXR")
        params = ["IMWRITE_JPEG_QUALITY", int(jpeg_quality)]
    elif ext == ".png":
        if dtype.kind == "f":
            raise BrushworkError(f"{label}: PNG cannot hold float data; save as EXR or TIFF")
        if xmp is not None:
            raise BrushworkError(f"{label}: XMP metadata is written into JPEG only")
        # Our encoder (core/media/png.py): every core, 16 bits and gray+alpha as they are
        encoded = png.encode(pixels, int(png_compression), dtype=dtype, convert=lambda band: _to_storage(band, dtype))
        _atomic_write(path, label, lambda f: f.writelines(encoded), overwrite)
        return
    else:  # TIFF
        if dtype == np.float16:
            dtype = np.dtype(np.float32)  # OpenCV would turn half into 8-bit; float32 keeps every value
        # Deflate is lossless for every type; OpenCV's default for float RGB is lossy SGILOG.
        params = ["IMWRITE_TIFF_COMPRESSION", "IMWRITE_TIFF_COMPRESSION_ADOBE_DEFLATE"]

    if cv2 is None:
        _write_with_pillow(path, label, ext, _to_storage(pixels, dtype), dtype, xmp, jpeg_quality, overwrite)
        return
    order = None
    if channels == 2:  # OpenCV cannot encode gray+alpha: store gray in R, G and B
        order = [0, 0, 0, 1]
    elif channels >= 3:
        order = [2, 1, 0, 3][:channels]  # RGB(A) to OpenCV's BGR(A)
    data = _to_storage(pixels, dtype, order)
    try:
        params = [getattr(cv2, p) if isinstance(p, str) else p for p in params]  # names: cv2 is optional
        ok, encoded = cv2.imencode(ext, np.ascontiguousarray(data), params)
    except cv2.error as e:
        raise BrushworkError(f"{label}: could not encode image ({str(e).strip().splitlines()[-1]})") from None
    if not ok:
        raise BrushworkError(f"{label}: could not encode image")
    data = memoryview(encoded)
    if xmp is not None:
        if ext not in (".jpg", ".jpeg"):
            raise BrushworkError(f"{label}: XMP metadata is written into JPEG only")
        data = _with_xmp(bytes(data), xmp)
    _atomic_write(path, label, lambda f: f.write(data), overwrite)


_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


def _write_with_pillow(path, label, ext, data, dtype, xmp, jpeg_quality, overwrite) -> None:
    """8-bit JPEG without OpenCV."""
    if ext not in (".jpg", ".jpeg") or dtype != np.uint8:
        _need(None, "cv2", label, f"writing {dtype} {ext[1:].upper()}")
    im = Image.fromarray(np.ascontiguousarray(data[..., 0] if data.shape[2] == 1 else data))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=int(jpeg_quality))
    encoded = buf.getvalue() if xmp is None else _with_xmp(buf.getvalue(), xmp)
    _atomic_write(path, label, lambda f: f.write(encoded), overwrite)


def _with_xmp(jpeg: bytes, xmp: bytes) -> bytes:
    """Insert an XMP APP1 segment right after the JPEG's SOI marker (where readers look)."""
    payload = _XMP_HEADER + xmp
    if len(payload) + 2 > 0xFFFF:
        raise BrushworkError("XMP packet too large for one JPEG segment")
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def _to_storage(pixels: np.ndarray, dtype: np.dtype, order: list[int] | None = None) -> np.ndarray:
    """Float pixels to the file's storage type, channels picked by `order`: integers are
    clipped to 0..1 and rounded. Done in row bands, so a 16K picture (perhaps memory-mapped)
    needs no image-sized float temporaries on the way."""
    if dtype.kind == "f" and order is None:
        return pixels.astype(dtype, copy=False)
    h, w, c = pixels.shape
    out = np.empty((h, w, c if order is None else len(order)), dtype)
    for a, b in bands(h, w * c * 4):
        band = pixels[a:b] if order is None else pixels[a:b][..., order]
        if dtype.kind == "f":
            out[a:b] = band
        else:
            scaled = np.nan_to_num(band.astype(np.float32), nan=0.0, copy=False)
            np.clip(scaled, 0.0, 1.0, out=scaled)
            scaled *= np.iinfo(dtype).max
            np.rint(scaled, out=scaled)
            out[a:b] = scaled
        release(pixels)
    return out


def _atomic_write(path, label: str, write, overwrite: bool = True) -> None:
    """Write through a hidden temp file beside the target, so the target is either
    the old file or the complete new one, never half written (and, without
    `overwrite`, never a file that was there)."""
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    tmp = None
    try:
        for _ in range(5):
            candidate = os.path.join(folder, f".{stem}.{secrets.token_hex(4)}.tmp{ext}")
            try:
                f = open(candidate, "xb")  # 'x': never clobber; default permissions follow the umask
            except FileExistsError:
                continue
            tmp = candidate
            break
        else:
            raise BrushworkError(f"{label}: could not create a temporary file in {folder}")
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        place(tmp, path, overwrite, label)
        tmp = None
    except OSError as e:
        raise BrushworkError(f"{label}: cannot write ({e.strerror or e})") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)


def place(tmp, path, overwrite: bool, label: str) -> None:
    """Move the finished file `tmp` to `path` (same folder), replacing a file there only
    when `overwrite`.

    A job checks the output path when it starts, but a file can appear there while it
    runs; a rename would silently replace it. A hard link fails on an existing name
    instead, so without `overwrite` the result is linked into place and the temp name
    removed. File systems without hard links (FAT, some network shares) get a last
    check and a rename."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise BrushworkError(f"{label}: already exists (it appeared while the job ran); results replace "
                             "files only when asked to overwrite", "overwrite") from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK, errno.EACCES):
            raise
        if os.path.lexists(path):
            raise BrushworkError(f"{label}: already exists; results replace files only when asked to overwrite",
                                 "overwrite") from None
        os.replace(tmp, path)
        return
    with contextlib.suppress(OSError):
        os.remove(tmp)
