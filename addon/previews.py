"""Thumbnails in the panel, from Blender's own preview collections (no pixels touched):
the style file's, dropped whenever the style changes, and the gallery's, loaded once.

Blender hands out icon ids only with a UI: in background mode every `icon_id` is 0,
though the thumbnails load all the same.
"""
import os

import bpy
import bpy.utils.previews

from . import gallery

_collections = {"file": None, "gallery": None}


def _collection(kind: str):
    if _collections[kind] is None:
        _collections[kind] = bpy.utils.previews.new()
    return _collections[kind]


def icon_id(path: str) -> int:
    """Icon of the style file at `path` (absolute or //-relative), 0 when there is none."""
    path = bpy.path.abspath(path) if path else ""
    if not path or not os.path.isfile(path):
        return 0
    files = _collection("file")
    if path not in files:
        files.load(path, path, "IMAGE")
    return files[path].icon_id


def gallery_previews() -> dict:
    """Every gallery painting's preview, by id (loaded on first use, kept until unregister)."""
    shelf = _collection("gallery")
    for painting in gallery.paintings():
        if painting.id not in shelf:
            shelf.load(painting.id, str(painting.path), "IMAGE")
    return dict(shelf)


def forget(kind: str = "file") -> None:
    """Drop one collection's thumbnails (the style changed, or the add-on goes away)."""
    if _collections[kind] is not None:
        bpy.utils.previews.remove(_collections[kind])
        _collections[kind] = None


def register():
    pass


def unregister():
    for kind in _collections:
        forget(kind)
