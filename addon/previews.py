"""The style image's thumbnail in the panel (Blender's own preview collection, no pixels touched)."""
import os

import bpy
import bpy.utils.previews

_collection = None


def icon_id(path: str) -> int:
    """Icon of the style file at `path` (absolute or //-relative), 0 when there is none."""
    global _collection
    path = bpy.path.abspath(path) if path else ""
    if not path or not os.path.isfile(path):
        return 0
    if _collection is None:
        _collection = bpy.utils.previews.new()
    if path not in _collection:
        _collection.load(path, path, "IMAGE")
    return _collection[path].icon_id


def forget() -> None:
    """Drop the thumbnails (the style changed, or the add-on goes away)."""
    global _collection
    if _collection is not None:
        bpy.utils.previews.remove(_collection)
        _collection = None


def register():
    pass


def unregister():
    forget()
