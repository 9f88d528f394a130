"""The bundled gallery (core/gallery/: 24 public-domain paintings), read for the Style panel.

core's own `core.gallery` imports `core.errors` absolutely, which the extension package
cannot import, so the manifest is read here as plain JSON. No `bpy`: the panel's
preview grid (previews.py) and the style a job uses (properties.py) both come from here.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .worker_client import PACKAGE_ROOT

FOLDER = PACKAGE_ROOT / "core" / "gallery"
DEFAULT = "monet-cliff-walk"   # a new scene's style: bright, loose strokes that read on any texture


@dataclass(frozen=True)
class Painting:
    id: str
    title: str
    artist: str
    year: str
    look: str
    licence: str
    path: Path

    @property
    def description(self) -> str:
        """The tooltip: who painted it, when, and how it paints."""
        return f"{self.artist}, {self.year} — {self.look}"


@cache
def paintings() -> tuple[Painting, ...]:
    """Every shipped painting whose JPEG is there, in the manifest's order (oldest first);
    none if the manifest is missing or unreadable (the panel then offers only a file)."""
    try:
        entries = json.loads((FOLDER / "manifest.json").read_text(encoding="utf-8"))
        found = [Painting(e["id"], e["title"], e["artist"], e["year"], e["look"], e["licence"],
                          FOLDER / "paintings" / f"{e['id']}.jpg") for e in entries]
    except (OSError, ValueError, KeyError, TypeError):
        return ()
    return tuple(p for p in found if p.path.is_file())


def find(painting_id: str) -> Painting | None:
    return next((p for p in paintings() if p.id == painting_id), None)


def default_id() -> str:
    """DEFAULT, or the first painting should a later gallery drop it."""
    shipped = paintings()
    return DEFAULT if find(DEFAULT) or not shipped else shipped[0].id
