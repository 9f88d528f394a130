"""Telling colour images from data maps, so nobody colour-stylizes a normal map by accident.

Normal, roughness, metallic, height, AO… maps are data, not colour: a style transfer
would corrupt the shading. The add-on knows a map's role from the node graph; the CLI
has only the file, so it looks at the name and, for normal maps, at the pixels.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DATA_WORDS = ("normal", "nrm", "nor", "rough", "roughness", "gloss", "metal", "metallic",
              "metalness", "height", "disp", "displacement", "bump", "ao", "occlusion",
              "ambientocclusion", "spec", "specular", "opacity", "mask", "orm", "arm")


def data_map_reason(path: str, rgb: np.ndarray | None = None) -> str | None:
    """Why this looks like a data map, or None if it looks like colour."""
    words = re.split(r"[^a-z0-9]+", Path(path).stem.lower())
    for word in words:
        if word in DATA_WORDS:
            return f"its name says '{word}'"
    if rgb is not None and rgb.shape[2] >= 3 and _looks_like_normal_map(rgb):
        return "its pixels look like a tangent-space normal map (mostly (0.5, 0.5, 1) blue)"
    return None


def _looks_like_normal_map(rgb: np.ndarray) -> bool:
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 65536)))
    px = rgb[::step, ::step, :3].reshape(-1, 3).astype(np.float32)
    mean = px.mean(0)
    blue_up = (px[:, 2] > 0.5).mean()
    return bool(abs(mean[0] - 0.5) < 0.1 and abs(mean[1] - 0.5) < 0.1 and mean[2] > 0.75
                and blue_up > 0.95)
