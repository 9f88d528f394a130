"""Resizing that respects the wrap mode, so a tileable texture stays tileable.

OpenCV where it is installed (area when shrinking, Lanczos-4 when growing); without it
(the Blender extension) Pillow's float mode, channel by channel, with the matching
filters (box = area averaging, Lanczos-3).
"""
from __future__ import annotations

import numpy as np

from ..nets.architecture import WRAPS

try:
    import cv2
except ImportError:
    cv2 = None


def _plain(img: np.ndarray, width: int, height: int, shrinking: bool) -> np.ndarray:
    if cv2 is not None:
        out = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4)
        return out[..., None] if out.ndim == 2 else out
    from PIL import Image

    filt = Image.Resampling.BOX if shrinking else Image.Resampling.LANCZOS
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(img[..., c], dtype=np.float32), mode="F")
                         .resize((width, height), filt)) for c in range(img.shape[2])]
    return np.stack(planes, axis=-1)


def resize(img: np.ndarray, size: tuple[int, int], wrap: str = "none") -> np.ndarray:
    """(H, W, C) float32 → (height, width, C); area when shrinking, Lanczos when growing."""
    h, w = img.shape[:2]
    height, width = size
    if (height, width) == (h, w):
        return img
    img = img[..., None] if img.ndim == 2 else img
    wrap_x, wrap_y = WRAPS[wrap]
    # Pad around the wrapped axes with their own opposite edge, resize, cut back.
    m = 8
    py, px = (m if wrap_y else 0), (m if wrap_x else 0)
    src = np.pad(img, ((py, py), (px, px), (0, 0)), mode="wrap") if (py or px) else img
    fy, fx = height / h, width / w
    big_h, big_w = int(round(src.shape[0] * fy)), int(round(src.shape[1] * fx))
    shrinking = fy * fx < 1
    out = _plain(src, big_w, big_h, shrinking)
    oy, ox = int(round(py * fy)), int(round(px * fx))
    out = out[oy:oy + height, ox:ox + width]
    if out.shape[:2] != (height, width):  # rounding of the pad: fall back to a plain resize
        out = _plain(img, width, height, shrinking)
    return np.ascontiguousarray(out, dtype=np.float32)


def _cubic(t: np.ndarray) -> list[np.ndarray]:
    """Keys' cubic convolution weights (a = −0.5) of the four taps around fraction t."""
    a = -0.5
    d = [1 + t, t, 1 - t, 2 - t]
    near = lambda x: (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1      # noqa: E731  |x| ≤ 1
    far = lambda x: a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a  # noqa: E731  1 < |x| < 2
    return [far(d[0]), near(d[1]), near(d[2]), far(d[3])]


def sample(img: np.ndarray, rows: np.ndarray, cols: np.ndarray, order: int = 1,
           wrap_x: bool = False) -> np.ndarray:
    """(H, W, C) `img` at fractional pixel positions (rows, cols, same shape): nearest
    (order 0), bilinear (1) or bicubic (3). Outside the image the edge repeats, or x
    wraps around (an equirect's meridian). Plain numpy: the extension has no OpenCV."""
    img = img[..., None] if img.ndim == 2 else img
    h, w = img.shape[:2]
    rows = np.clip(rows, 0, h - 1)
    if not wrap_x:
        cols = np.clip(cols, 0, w - 1)
    if order == 0:
        r, c = np.rint(rows).astype(np.int64), np.rint(cols).astype(np.int64)
        return img[r, c % w if wrap_x else c].astype(np.float32)
    r0, c0 = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    fr, fc = (rows - r0).astype(np.float32), (cols - c0).astype(np.float32)
    if order == 1:
        taps, wr, wc = (0, 1), [1 - fr, fr], [1 - fc, fc]
    elif order == 3:
        taps, wr, wc = (-1, 0, 1, 2), _cubic(fr), _cubic(fc)
    else:
        raise ValueError(f"order {order}: use 0, 1 or 3")
    cs = [(c0 + k) % w if wrap_x else np.clip(c0 + k, 0, w - 1) for k in taps]
    out = np.zeros((*rows.shape, img.shape[2]), np.float32)
    for i, dr in enumerate(taps):
        r = np.clip(r0 + dr, 0, h - 1)
        for j, c in enumerate(cs):
            out += img[r, c] * (wr[i] * wc[j])[..., None]
    return out
