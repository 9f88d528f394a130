"""Whether the chosen painting has a learned model (core/nets/learned.py), for the panel's
badge and Forget: cheap enough for every redraw (a painting's sha256 is computed once per
file version). No `bpy`.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import BrushworkError
from ..core.nets import learned as engine

_sha: dict[tuple, str] = {}


def _painting_sha(style: str) -> str | None:
    try:
        st = os.stat(style)
    except OSError:
        return None
    key = (style, st.st_mtime_ns, st.st_size)
    if key not in _sha:
        _sha[key] = engine.painting_sha256(style)
    return _sha[key]


def status(style: str, folder: Path) -> dict | None:
    """The header of the learned file in `folder` every job with this painting (and
    ccpl-r31) uses, with its "path"; None where there is none, or it no longer fits the
    painting or the installed base model."""
    sha = _painting_sha(style) if style else None
    path = Path(folder) / f"{sha}.safetensors" if sha else None
    if path is None or not path.is_file():
        return None
    try:
        meta = engine.header(path)
    except (BrushworkError, OSError, ValueError):
        return None
    if meta.get("painting_sha256") != sha or meta.get("base_sha256") != engine.base_sha256():
        return None
    return {**meta, "path": str(path)}


def forget(style: str, folder: Path) -> Path | None:
    """Remove the painting's learned file in `folder` (jobs paint with the general model
    again); returns the file removed, or None."""
    sha = _painting_sha(style) if style else None
    path = Path(folder) / f"{sha}.safetensors" if sha else None
    if path is None or not path.is_file():
        return None
    path.unlink()
    return path


def describe(meta: dict) -> str:
    """"Learned: 150 steps" (and "stopped early" where it was)."""
    steps = meta.get("steps")
    return f"Learned: {steps} steps" + (" (stopped early)" if str(meta.get("stopped")).lower() == "true" else "")
