"""Resizing that respects the wrap mode, so a tileable texture stays tileable."""
from __future__ import annotations

import cv2
import numpy as np

from .tiling import WRAPS


def resize(img: np.ndarray, size: tuple[int, int], wrap: str = "none") -> np.ndarray:
    """(H, W, C) float32 → (height, width, C); area when shrinking, Lanczos when growing."""
    h, w = img.shape[:2]
    height, width = size
    if (height, width) == (h, w):
        return img
    wrap_x, wrap_y = WRAPS[wrap]
    # Pad around the wrapped axes with their own opposite edge, resize, cut back.
    m = 8
    py, px = (m if wrap_y else 0), (m if wrap_x else 0)
    src = cv2.copyMakeBorder(img, py, py, px, px, cv2.BORDER_WRAP) if (py or px) else img
    fy, fx = height / h, width / w
    big_h, big_w = int(round(src.shape[0] * fy)), int(round(src.shape[1] * fx))
    shrinking = fy * fx < 1
    out = cv2.resize(src, (big_w, big_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4)
    oy, ox = int(round(py * fy)), int(round(px * fx))
    out = out[oy:oy + height, ox:ox + width]
    if out.ndim == 2:
        out = out[..., None]
    if out.shape[:2] != (height, width):  # rounding of the pad: fall back to a plain resize
        out = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4)
        out = out[..., None] if out.ndim == 2 else out
    return np.ascontiguousarray(out, dtype=np.float32)
