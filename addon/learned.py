"""Whether the chosen painting has a learned model (core/nets/learned.py), for the panel's
badge and Forget: cheap enough for every redraw (a painting's sha256 is computed once per
file version). No `bpy`.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import BrushworkError
from ..core.nets import learned as engine

_sha: dict[tuple, str] = {}        # painting version → its sha256
_headers: dict[tuple, dict] = {}   # learned file version → its header


def _version(path) -> tuple | None:
    """(path, mtime, size): a file's version, so each version is read once, not on every redraw."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return str(path), st.st_mtime_ns, st.st_size


def _painting_sha(style: str) -> str | None:
    key = _version(style)
    if key is not None and key not in _sha:
        _sha[key] = engine.painting_sha256(style)
    return _sha.get(key)


def status(style: str, folder: Path) -> dict | None:
    """The header of the learned file in `folder` every job with this painting (and
    ccpl-r31) uses, with its "path"; None where there is none, or it no longer fits the
    painting or the installed base model."""
    sha = _painting_sha(style) if style else None
    path = Path(folder) / f"{sha}.safetensors" if sha else None
    key = _version(path) if path is not None else None
    if key is None:
        return None
    if key not in _headers:
        try:
            _headers[key] = engine.header(path)
        except (BrushworkError, OSError, ValueError):
            return None
    meta = _headers[key]
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
