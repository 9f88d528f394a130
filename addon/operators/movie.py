"""Stylize Movie Clip: filmed footage (a Video Sequencer movie strip, or a movie file) → a new MP4.

The engine's worker does the work (a "movie" job: core/jobs/movie.py), steadied by optical
flow since footage has no motion vectors. The result is a new file in `stylized/`
beside the .blend; for a strip, only its visible (trimmed) part is stylized and the new
movie is added as a strip in the channel above, starting on the same frame, so the two
can be compared by muting one. The original strip and file are never changed.
"""
from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from .. import jobspec, plan, sequencer
from ..driving import DrivenOperator, sequence_job, steadiness
from ..properties import check_settings


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
        problem = check_settings(settings)
        path = "" if self.use_strip else (self.filepath or settings.movie_file)
        strip = None if path else sequencer.active_movie_strip(scene)
        if not problem and strip is not None:
            path = strip.filepath
        elif not problem and not path:
            problem = "Choose a movie file, or make a movie strip active in the Video Sequencer"
        source = Path(bpy.path.abspath(path)) if path else None
        if not problem and not source.is_file():
            problem = f"Movie not found: {source}"
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        self.strip_name = strip.name if strip is not None else None
        self.source = source
        self.output, made = plan.render_output(strip.name if strip is not None else source.stem, ".mp4")
        trim = sequencer.trim(scene, strip) if strip is not None else None   # only what the strip shows
        self.result = {}
        return self.drive(context, sequence_job(context, jobspec.movie(settings, source, self.output, trim),
                                                0.0, self.result, made))

    def finished(self, context):
        r = self.result
        where = ""
        if self.strip_name is not None:
            strips = sequencer.strips(context.scene)
            old = strips[self.strip_name]
            new = strips.new_movie(name=f"{old.name}.stylized", filepath=self.output,
                                   channel=old.channel + 1, frame_start=old.frame_final_start)
            where = f", strip {new.name} in channel {new.channel}"
        notes = "".join(f"; {n}" for n in r.get("notes", []))
        self.report({"INFO"}, f"Stylized {r['frames']} frames of {self.source.name} → {self.output}"
                              f"{where}{steadiness(r)}{notes}")


CLASSES = (BRUSHWORK_OT_stylize_movie_clip,)
