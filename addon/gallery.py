"""The bundled gallery (core/gallery/: public-domain paintings) as the Style panel reads
it: the engine's own reader, imported in-process. No `bpy`: the preview grid
(previews.py) and the style a job uses (choices.py) both come from here.
"""
from __future__ import annotations

from ..core.gallery import DEFAULT, Painting, default_id  # noqa: F401 - the panel's names
from ..core.gallery import available as _available


def paintings() -> tuple[Painting, ...]:
    """Every shipped painting whose JPEG is there, in the manifest's order (oldest first)."""
    return tuple(_available())


def find(painting_id: str) -> Painting | None:
    return next((p for p in paintings() if p.id == painting_id), None)
