"""The add-on's operators, one module per kind of work: textures (Stylize Texture, Revert,
Cancel), preview (a quick low-resolution Stylize Texture), renders (Stylize Render,
Animation, Panorama), movie (Stylize Movie Clip) and learn (Learn This Painting, Forget).
This module only registers them."""
import bpy

from ..driving import is_running, request_cancel
from . import learn, movie, preview, renders, textures

register, _unregister_classes = bpy.utils.register_classes_factory(
    textures.CLASSES + preview.CLASSES + renders.CLASSES + movie.CLASSES + learn.CLASSES)


def unregister():
    if is_running():
        request_cancel()   # a job must not outlive the operator that drives it
    _unregister_classes()
