"""The Video Sequencer's movie strips, the same way in every Blender version the add-on supports."""
from __future__ import annotations

from .renders import fps


def active_movie_strip(scene):
    """The active strip if it is a movie strip, else None."""
    ed = scene.sequence_editor
    strip = ed.active_strip if ed else None
    return strip if strip is not None and strip.type == "MOVIE" else None


def strips(scene):
    """The scene's top-level strips, making its sequence editor if it has none
    (Blender < 4.4 calls them "sequences")."""
    ed = scene.sequence_editor_create()
    return ed.strips if hasattr(ed, "strips") else ed.sequences


def trim(scene, strip) -> tuple[float, float]:
    """What `strip` shows of its movie, as (start, end) in seconds of the source: its trims."""
    rate = fps(scene)
    return strip.frame_offset_start / rate, (strip.frame_offset_start + strip.frame_final_duration) / rate
