"""Settings an artist picks (`scene.brushwork`), each stylized material's before/after
slider (`material.brushwork_mix`) and the running job's state (window manager).

The scene settings are saved with the .blend, so a pipeline script and the panel see
the same values; the job state is transient and never saved. Defaults and limits of the
numbers come from the engine's job contract (core/jobs/schema.py); how each enum maps to
the worker's values is choices.py's. Here too `check_settings`, what every job needs
before it can start.
"""
from pathlib import Path

import bpy
from bpy.props import (BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)

from ..core.engine.names import METHOD_INFO
from ..core.jobs.schema import DEFAULTS, RANGES
from . import gallery, materials, previews
from .choices import DEVICES, METHOD_ITEMS, METHODS, WRAPS, shipped, style_path  # noqa: F401 - used by the operators


def check_settings(settings) -> str | None:
    """What stops any Brushwork job before it starts: no style image, one that is not
    there, or a method saved in the .blend whose networks this install lacks."""
    if settings.style_source == "GALLERY" and not style_path(settings):
        chosen = settings.get("style_gallery")
        return (f"Gallery painting '{chosen}' does not ship with this Brushwork: pick another"
                if chosen else "No gallery is installed: pick a style file") + " (Brushwork panel > Style)"
    if not settings.style_image and settings.style_source == "FILE":
        return "Pick a style image first (Brushwork panel > Style)"
    style = Path(style_path(settings))
    if not style.is_file():
        return f"Style image not found: {style}"
    return _check_method(settings)


def _check_method(settings) -> str | None:
    """A .blend saved where more methods shipped stores a number this menu lacks: Blender
    then reads the method as "", which must not quietly become another method."""
    if settings.method:
        return None
    number = settings.get("method")
    name = next((n for n, (num, *_) in METHOD_INFO.items() if num == number), f"number {number}")
    label = METHOD_INFO[name][1] if name in METHOD_INFO else "unknown"
    return (f"Method {label} ({name}), saved in this .blend, is not installed: its networks do not "
            "ship with this Brushwork; pick another method")


def _style_changed(self, context):
    """A file named (Browse…, a script) is the style from now on."""
    previews.forget()
    if self.style_image:
        self.style_source = "FILE"   # stored: emptying the field later asks for a file


SOURCES = ("GALLERY", "FILE")


def _get_source(self) -> int:
    """Stored once chosen; a .blend from before the gallery keeps the file it names."""
    return self.get("style_source", SOURCES.index("FILE" if self.style_image else "GALLERY"))


def _set_source(self, value: int) -> None:
    self["style_source"] = value


_gallery_items_kept: list = []   # Blender keeps no reference to a dynamic enum's strings


def _gallery_items(self, context) -> list:
    """One item per painting: its title, "artist, year — look", its thumbnail; the number
    is the manifest's order, but a choice is saved by id (see `_get_gallery`)."""
    if not _gallery_items_kept:
        shelf = previews.gallery_previews()
        _gallery_items_kept.extend((p.id, p.title, p.description, shelf[p.id].icon_id, i)
                                   for i, p in enumerate(gallery.paintings()))
    return _gallery_items_kept


def _get_gallery(self) -> int:
    """The chosen painting's number, from its id: a gallery that grows keeps saved choices."""
    chosen = self.get("style_gallery", gallery.default_id())
    return next((number for key, *_, number in _gallery_items(self, None) if key == chosen), 0)


def _set_gallery(self, value: int) -> None:
    key = next((key for key, *_, number in _gallery_items(self, None) if number == value), None)
    if key is not None:
        self["style_gallery"] = key
        self.style_source = "GALLERY"


# Subsurface Color left the Principled BSDF in Blender 4.0 (subsurface takes Base Color).
COLOUR_INPUT_ITEMS = [item for item in [
    ("EMISSION", "Emission", "Images feeding a Principled BSDF's Emission Color", 1),
    ("SUBSURFACE", "Subsurface", "Images feeding Subsurface Color", 2),
    ("SHEEN", "Sheen", "Images feeding Sheen Tint", 4),
    ("COAT", "Coat", "Images feeding Coat Tint", 8)] if item[0] != "SUBSURFACE" or bpy.app.version < (4, 0, 0)]

SCOPE_ITEMS = [("ACTIVE", "Active Material", "The active object's active material", 0),
               ("SELECTED", "All Selected Objects", "Every material of the selected objects", 1),
               ("SCENE", "Whole Scene", "Every material of the scene's objects", 2)]


def _get_scope(self) -> int:
    """Stored once chosen; a .blend from before saved only the All Selected Objects switch."""
    return self.get("scope", 1 if self.get("selected_objects") else 0)


def _set_scope(self, value: int) -> None:
    self["scope"] = value


class BrushworkSettings(bpy.types.PropertyGroup):
    style_source: EnumProperty(
        name="Style From", get=_get_source, set=_set_source,
        items=[("GALLERY", "Gallery", "A painting from Brushwork's gallery (public domain, CC0)", 0),
               ("FILE", "File", "Any painting on disk (Browse…)", 1)],
        description="Where the style comes from")
    style_gallery: EnumProperty(
        name="Painting", items=_gallery_items, get=_get_gallery, set=_set_gallery,
        description="A public-domain painting shipped with Brushwork")
    style_image: StringProperty(
        name="Style", subtype="FILE_PATH", update=_style_changed,
        description="The painting whose look the textures take on (PNG, JPEG, TIFF, EXR)")
    method: EnumProperty(name="Method", default="AUTO", items=METHOD_ITEMS)
    strength: FloatProperty(name="Strength", default=DEFAULTS["strength"], min=RANGES["strength"].low,
                            max=RANGES["strength"].high, subtype="FACTOR",
                            description="0 keeps the texture, 1 paints it fully in the style")
    preserve_color: BoolProperty(name="Preserve Colour", default=False,
                                 description="Keep the texture's own hues; take strokes and light from the style")
    style_scale: FloatProperty(name="Style Scale", default=DEFAULTS["style_scale"], min=RANGES["style_scale"].low,
                               max=RANGES["style_scale"].high, soft_min=0.25, soft_max=4.0,
                               description="Stroke size: 2 paints strokes twice as large")
    tileable: EnumProperty(
        name="Tileable", default="AUTO",
        items=[("AUTO", "Detect", "Keep the result tileable where the texture is"),
               ("ON", "Tileable", "Always make the result tile seamlessly"),
               ("OFF", "Off", "Treat the texture's edges as edges")],
        description="Whether the stylized texture must repeat without seams")
    device: EnumProperty(
        name="Device", default="AUTO",
        items=[("AUTO", "Auto", "The GPU if PyTorch sees one, else the CPU"),
               ("CPU", "CPU", "Always the CPU"), ("GPU", "GPU", "A CUDA GPU (fails clearly if none)")])
    scope: EnumProperty(
        name="Materials", get=_get_scope, set=_set_scope, items=SCOPE_ITEMS,
        description="Whose Base Color maps Stylize paints (and Revert restores)")
    selected_objects: BoolProperty(
        name="All Selected Objects", get=lambda self: self.scope != "ACTIVE",
        set=lambda self, on: setattr(self, "scope", "SELECTED" if on else "ACTIVE"),
        description="Scripts from before Materials: on is All Selected Objects, off the active material")
    one_look: BoolProperty(
        name="One look for all", default=True,
        description="Paint every map with one transformation from all their statistics together, so "
                    "neighbouring materials share one palette; off: each map after its own statistics")
    colour_inputs: EnumProperty(
        name="Also Paint", options={"ENUM_FLAG"}, default=set(),
        items=COLOUR_INPUT_ITEMS,
        description="Colour maps besides Base Color to paint too (colour images only; data maps never)")
    pack: BoolProperty(name="Pack into .blend", default=False,
                       description="Pack the stylized images into the .blend instead of referencing the files")
    coherence: FloatProperty(
        name="Coherence", default=DEFAULTS["coherence"], min=RANGES["coherence"].low, max=0.95, subtype="FACTOR",
        description="Animations: how much of the previous stylized frame, moved along the render's "
                    "motion vectors, each frame keeps (less flicker; 0 = every frame alone)")
    auto_stylize: BoolProperty(
        name="Auto-Stylize Renders", default=False,
        description="Stylize F12 renders into a new image and every frame Ctrl+F12 writes into "
                    "<name>.stylized.png beside it (each frame on its own; Stylize Animation avoids flicker)")
    depth_aware: BoolProperty(
        name="Depth-Aware Strokes", default=False,
        description="Renders: fine relu3_1 strokes at the focus distance, the coarser relu4_1 method of the "
                    "same family away from it (needs the Z pass)")
    focus_distance: FloatProperty(
        name="Focus", default=0.0, min=0.0, subtype="DISTANCE",
        description="Distance that keeps the finest strokes; 0 = the camera's depth-of-field focus")
    falloff: FloatProperty(name="Falloff", default=0.0, min=0.0, subtype="DISTANCE",
                           description="Distance over which paint takes over; 0 = a quarter of the depth range")
    depth_side: EnumProperty(
        name="Dissolve", default=DEFAULTS["depth_side"],
        items=[("both", "Near and Far", "Both sides of the focus plane dissolve into paint"),
               ("far", "Far Only", "Only what lies beyond the focus plane"),
               ("near", "Near Only", "Only what lies in front of the focus plane")])
    far_scale: FloatProperty(
        name="Far Stroke Size", default=DEFAULTS["far_scale"], min=0.25, max=8.0, soft_max=4.0,
        description="Depth-aware: strokes away from focus this many times larger still "
                    "(1 = the relu4_1 method's own, already coarser)")
    movie_file: StringProperty(
        name="Movie", subtype="FILE_PATH",
        description="Stylize Movie Clip: this movie file (empty: the active movie strip in the Video Sequencer)")
    movie_coherence: EnumProperty(
        name="Steady", default="flow",
        items=[("flow", "Optical Flow", "Carry the previous stylized frame along the motion estimated in the footage"),
               ("none", "Off", "Every frame stylized on its own")],
        description="Movies: how frames are kept from flickering")
    learn_minutes: FloatProperty(
        name="Minutes", default=4.0, min=0.5, max=120.0, soft_max=30.0,
        description="Learn This Painting: how long to tune the default method to the painting "
                    "(about 150 steps in 4 minutes on a 2-core CPU; more steps, a closer look)")
    tile: IntProperty(name="Tile Size", default=DEFAULTS["tile"], min=0, soft_min=256, soft_max=4096,
                      description=f"Largest piece processed at once (bounds memory); 0 = whole image, else at "
                                  f"least {RANGES['tile'].low}")


def _mix_changed(self, context):
    materials.set_mix(self, self.brushwork_mix)


class BrushworkJobState(bpy.types.PropertyGroup):
    running: BoolProperty(default=False)
    progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    status: StringProperty(default="")
    preview: StringProperty(default="")   # the quick preview shown: "<image>: 512×256 of 2048×1024"


CLASSES = (BrushworkSettings, BrushworkJobState)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(CLASSES)


def register():
    _register_classes()
    bpy.types.Scene.brushwork = PointerProperty(type=BrushworkSettings)
    bpy.types.WindowManager.brushwork_job = PointerProperty(type=BrushworkJobState)
    bpy.types.Material.brushwork_mix = FloatProperty(
        name="Before / After", default=1.0, min=0.0, max=1.0, subtype="FACTOR", update=_mix_changed,
        description="Mixes the original texture's pixels (0) with the stylized ones (1), live in the "
                    "viewport; Strength re-paints in feature space (Apply Strength)")


def unregister():
    _gallery_items_kept.clear()   # their icons go with the previews
    del bpy.types.Material.brushwork_mix
    del bpy.types.WindowManager.brushwork_job
    del bpy.types.Scene.brushwork
    _unregister_classes()
