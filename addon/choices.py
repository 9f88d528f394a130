"""How the panel's choices map to the engine's words, and the style a job paints after.

No `bpy` (the spec code built from these runs and is tested without Blender): the
Method menu's items from core's method table and the networks that ship, the Tileable
and Device enums' worker values, and the style file of the panel's settings.
"""
from __future__ import annotations

import os

from ..core.engine.names import METHOD_FILES, METHOD_INFO
from . import gallery
from .worker_client import PACKAGE_ROOT


def shipped(name: str) -> bool:
    """Whether every network the method needs is installed (only trained networks ship)."""
    return all((PACKAGE_ROOT / "models" / file).is_file() for file in METHOD_FILES[name])


def _method_items() -> tuple[list, dict]:
    """The Method menu's items and enum identifier → core name (None: the engine's best trained).

    The list, the words and each item's stored number are core's (core/engine/names.py);
    identifiers are core's names in capitals ("wct-r31" → WCT_R31). Only methods whose
    networks ship are offered, so the menu never holds a choice that can only fail.
    """
    items = [("AUTO", "Best available", "The strongest method whose networks are trained", 0)]
    names = {"AUTO": None}
    for name, (number, label, description) in METHOD_INFO.items():
        if shipped(name):
            identifier = name.upper().replace("-", "_")
            items.append((identifier, label, description, number))
            names[identifier] = name
    return items, names


METHOD_ITEMS, METHODS = _method_items()
WRAPS = {"AUTO": "auto", "ON": "both", "OFF": "none"}
DEVICES = {"AUTO": "auto", "CPU": "cpu", "GPU": "cuda"}


def style_path(settings) -> str:
    """The style file every job paints after: the gallery painting or the chosen file
    (absolute), "" when there is none."""
    if settings.style_source == "GALLERY":
        painting = gallery.find(settings.get("style_gallery", gallery.default_id()))
        return str(painting.path) if painting else ""
    return blend_path(settings.style_image) if settings.style_image else ""


def blend_path(text: str) -> str:
    """An absolute path for one the artist typed: "//" is the .blend's folder (Blender's
    rule, so only then is `bpy` asked), anything else as the OS reads it."""
    if text.startswith("//"):
        import bpy   # only inside Blender can a path be relative to the .blend
        return bpy.path.abspath(text)
    return os.path.abspath(os.path.expanduser(text))


