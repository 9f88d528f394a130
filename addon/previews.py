"""Pictures shown to the artist: thumbnails in the panel, from Blender's own preview
collections (no pixels touched): the style file's and the quick preview's, dropped
whenever the style changes, and the gallery's, loaded once; and results in the Image Editor.

Blender hands out icon ids only with a UI: in background mode every `icon_id` is 0,
though the thumbnails load all the same.
"""
import os
from pathlib import Path

import bpy
import bpy.utils.previews

from . import gallery

_collections = {"file": None, "gallery": None}
PREVIEW_IMAGE = "Brushwork Preview"   # the quick preview's image, replaced by the next one


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


def show_in_image_editor(context, image) -> None:
    """Show `image` in the first Image Editor open, if any."""
    for area in context.screen.areas if context.screen else []:
        if area.type == "IMAGE_EDITOR":
            area.spaces.active.image = image
            return


def drop_preview(context) -> None:
    """Forget the quick preview (operators/preview.py): its image, its file, its line in the panel."""
    image = bpy.data.images.get(PREVIEW_IMAGE)
    if image is not None:
        Path(bpy.path.abspath(image.filepath)).unlink(missing_ok=True)
        bpy.data.images.remove(image)
    context.window_manager.brushwork_job.preview = ""


def register():
    pass


def unregister():
    for kind in _collections:
        forget(kind)
