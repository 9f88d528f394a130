"""Stylize Movie Clip: filmed footage (a Video Sequencer movie strip, or a movie file) → a new MP4.

The engine's worker does the work (a "movie" job: core/clip.py), steadied by optical
flow since footage has no motion vectors. The result is a new file in `stylized/`
beside the .blend; for a strip, only its visible (trimmed) part is stylized and the new
movie is added as a strip in the channel above, starting on the same frame, so the two
can be compared by muting one. The original strip and file are never changed.
"""
from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from . import plan
from .driving import DrivenOperator
from .operators import check_style
from .render_operators import engine_settings, sequence_job, steadiness


def active_movie_strip(scene):
    ed = scene.sequence_editor
    strip = ed.active_strip if ed else None
    return strip if strip is not None and strip.type == "MOVIE" else None


def _strips(scene):
    ed = scene.sequence_editor_create()
    return ed.strips if hasattr(ed, "strips") else ed.sequences   # Blender < 4.4: "sequences"


class BRUSHWORK_OT_stylize_movie_clip(DrivenOperator, bpy.types.Operator):
    """Paint a movie (the active Sequencer movie strip, or the panel's movie file) into a new, steady MP4"""
    bl_idname = "brushwork.stylize_movie_clip"
    bl_label = "Stylize Movie Clip"

    filepath: StringProperty(name="Movie", subtype="FILE_PATH",
                             description="Movie file to stylize instead of the active movie strip")
    use_strip: BoolProperty(name="Active Strip", default=False,
                            description="Stylize the active movie strip even when the panel names a movie file")

    def execute(self, context):
        scene, settings = context.scene, context.scene.brushwork
        problem = check_style(settings)
        path = "" if self.use_strip else (self.filepath or settings.movie_file)
        strip = None if path else active_movie_strip(scene)
        spec = {}
        if not problem:
            if strip is not None:
                path = strip.filepath
                fps = scene.render.fps / scene.render.fps_base
                # Only what the strip shows: its trims, in seconds of the source.
                spec["start"] = strip.frame_offset_start / fps
                spec["end"] = (strip.frame_offset_start + strip.frame_final_duration) / fps
            elif not path:
                problem = "Choose a movie file, or make a movie strip active in the Video Sequencer"
        source = Path(bpy.path.abspath(path)) if path else None
        if not problem and not source.is_file():
            problem = f"Movie not found: {source}"
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        self.strip_name = strip.name if strip is not None else None
        self.source = source
        self.output = plan.render_output(strip.name if strip is not None else source.stem, ".mp4")
        spec.update(movie=str(source), output=self.output, coherence=settings.movie_coherence,
                    **engine_settings(settings))
        self.result = {}
        return self.drive(context, sequence_job(context, spec, 0.0, self.result))

    def finished(self, context):
        r = self.result
        where = ""
        if self.strip_name is not None:
            scene = context.scene
            strips = _strips(scene)
            old = strips[self.strip_name]
            new = strips.new_movie(name=f"{old.name}.stylized", filepath=self.output,
                                   channel=old.channel + 1, frame_start=old.frame_final_start)
            where = f", strip {new.name} in channel {new.channel}"
        notes = "".join(f"; {n}" for n in r.get("notes", []))
        self.report({"INFO"}, f"Stylized {r['frames']} frames of {self.source.name} → {self.output}"
                              f"{where}{steadiness(r)}{notes}")


class SEQUENCER_PT_brushwork(bpy.types.Panel):
    """Stylize Movie Clip where the strips are: the Video Sequencer's sidebar."""
    bl_label = "Brushwork"
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Brushwork"

    def draw(self, context):
        settings = context.scene.brushwork
        col = self.layout.column()
        col.prop(settings, "style_image")
        col.prop(settings, "method")
        col.prop(settings, "strength", slider=True)
        col.prop(settings, "movie_coherence")
        strip = active_movie_strip(context.scene)
        col.label(text=f"Strip: {strip.name}" if strip else "Make a movie strip active", icon="SEQUENCE")
        row = col.row()
        row.enabled = strip is not None
        row.operator(BRUSHWORK_OT_stylize_movie_clip.bl_idname, icon="FILE_MOVIE").use_strip = True


CLASSES = (BRUSHWORK_OT_stylize_movie_clip, SEQUENCER_PT_brushwork)


register, unregister = bpy.utils.register_classes_factory(CLASSES)
