"""Colour management, on purpose: the networks see sRGB-encoded RGB in [0, 1].

Integer files (8/16-bit) hold sRGB-encoded values; float files (EXR, float TIFF) hold
scene-linear light. Linear input is encoded to sRGB for the networks and decoded back
afterwards. Values above 1 (highlights brighter than display white) cannot be stylized
by networks trained on photographs: they are clipped to 1 before stylizing, and the
result is at most 1.0 in linear light; negatives are clipped to 0. Or, on purpose, for
HDR images whose light lives above 1 (an HDRI's sky and sun), `tonemap` compresses
them into display range and `untonemap` undoes it on the result, so a float file stays
high dynamic range.
"""
from __future__ import annotations

import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # Rec. 709 / sRGB primaries


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    v = np.clip(np.asarray(v, dtype=np.float32), 0, None)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055).astype(np.float32)


def to_working(color: np.ndarray, linear: bool) -> np.ndarray:
    """(H, W, 1|3) file values → (H, W, 3) sRGB-encoded float32 in [0, 1]."""
    rgb = np.repeat(color, 3, axis=2) if color.shape[2] == 1 else color
    if linear:
        srgb = linear_to_srgb(rgb)  # a new array already: clip it in place
        return np.clip(srgb, 0, 1, out=srgb)
    return np.clip(rgb, 0, 1).astype(np.float32, copy=False)  # one copy, not two


def from_working(rgb: np.ndarray, channels: int, linear: bool) -> np.ndarray:
    """(H, W, 3) sRGB result → the file's own encoding and channel count (1 or 3).

    A grayscale input stays grayscale (the result's luminance): a gray map keeps its
    format in a texture pipeline.
    """
    rgb = np.clip(rgb, 0, 1)
    out = luminance(rgb)[..., None] if channels == 1 else rgb
    return (srgb_to_linear(out) if linear else out).astype(np.float32)


KEY = 0.18  # the log-average luminance maps to middle grey (Reinhard's photographic key)


def tonemap(color: np.ndarray) -> tuple[np.ndarray, float]:
    """(H, W, 1|3) scene-linear HDR → (H, W, 3) sRGB in [0, 1], and the exposure used.

    Reinhard's global operator on luminance (hue kept): exposure puts the log-average
    at middle grey, then L/(1+L) rolls highlights off smoothly instead of clipping them.
    """
    rgb = np.clip(np.repeat(color, 3, axis=2) if color.shape[2] == 1 else color, 0, None).astype(np.float32)
    lum = luminance(rgb)
    exposure = float(KEY / np.exp(np.log(1e-4 + lum.astype(np.float64)).mean()))
    display = rgb * (exposure / (1 + exposure * lum))[..., None]
    return linear_to_srgb(np.clip(display, 0, 1)), exposure


def untonemap(rgb: np.ndarray, exposure: float, peak: float) -> np.ndarray:
    """The inverse of `tonemap` for a (stylized) sRGB result: scene-linear, at most `peak`."""
    display = srgb_to_linear(np.clip(rgb, 0, 1))
    lum = np.minimum(luminance(display), 0.999)
    return np.clip(display / ((1 - lum) * exposure)[..., None], 0, peak).astype(np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    return (rgb @ LUMA).astype(np.float32)


def as_light(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """An emission map painted as light: per pixel the content's brightness (its largest
    channel in linear light) in the stylized colour's hue and saturation.

    An emission map is mostly black, and a painting has no black there: painted as
    colour, the dark areas come back in the painting's mean colour and the whole object
    glows. Light is the artist's: where the map is black nothing glows (exactly 0), and
    elsewhere it glows as brightly as before, in the painting's palette. Where the
    painting is black but the map glows, the glow stays as bright, in grey.
    """
    lit = srgb_to_linear(np.clip(stylized, 0, 1))
    glow = srgb_to_linear(np.clip(content, 0, 1)).max(axis=2, keepdims=True)
    peak = lit.max(axis=2, keepdims=True)
    grey = peak < 1e-6
    scaled = np.where(grey, glow, lit * (glow / np.where(grey, 1.0, peak)))
    return linear_to_srgb(np.clip(scaled, 0, 1))


def preserve_color(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Luminance-only transfer: the stylized luma with the content's chroma.

    Adding the luma difference to every channel keeps the content's colour differences
    (Cb, Cr of Y'CbCr) exactly, so hues and saturation stay the content's while strokes,
    texture and light come from the style.
    """
    delta = luminance(stylized) - luminance(content)
    return np.clip(content + delta[..., None], 0, 1).astype(np.float32)
