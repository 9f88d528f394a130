"""Learn This Painting and Forget: ccpl-r31 tuned to the chosen painting, once, for every
later job (textures, renders, animations, movies, panoramas: the engine uses the learned
model wherever that painting is painted with ccpl-r31).

The worker runs core/training/learn.py: it needs PyTorch in the worker's Python (the
add-on's preferences install it, or point at a Python that has it); the bundled
onnxruntime paints with the learned model but cannot learn. The content it learns from is
the scope's own Base Color maps (what will be painted), else a small procedural set. A
cancel keeps the best weights learned so far. What it learns lands in
`stylized/learned/` beside a saved .blend (preferences.learned_dir), where every job the
add-on starts looks for it, on this machine or a render farm's.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import bpy
from bpy.props import IntProperty

from .. import jobspec, learned, plan, preferences
from ..driving import DrivenOperator, one_job
from ..properties import check_settings, style_path
from ..worker_client import Worker


class BRUSHWORK_OT_learn_painting(DrivenOperator, bpy.types.Operator):
    """Tune the default method (ccpl-r31) to this painting for a few minutes, learning from the scope's maps; every later job with this painting uses it (needs PyTorch in the worker's Python)"""
    bl_idname = "brushwork.learn_painting"
    bl_label = "Learn This Painting"
    cancelled_note = "the best weights learned so far were kept"

    steps: IntProperty(name="Steps", default=0, min=0, options={"SKIP_SAVE"},
                       description="Learn for this many steps instead of the panel's minutes (0: the minutes)")

    def execute(self, context):
        settings = context.scene.brushwork
        problem = check_settings(settings)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        work = Path(tempfile.mkdtemp(prefix="brushwork-"))
        try:
            jobs = plan.make(context, settings, work).jobs
        except (RuntimeError, OSError) as e:
            shutil.rmtree(work, ignore_errors=True)
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        contents = [c for job in jobs if not job.emission for c in job.contents]
        self.painting = Path(style_path(settings)).name
        self.source = f"{len(contents)} map(s) of the scope" if contents else "Brushwork's procedural set"
        spec = jobspec.learn(settings, contents or None, settings.learn_minutes, self.steps or None)
        self.result = {}
        return self.drive(context, self._steps(context, spec, work))

    def _steps(self, context, spec, work: Path):
        worker = Worker(spec, preferences.python_setup(context))
        self.result.update((yield from one_job(worker, f"learn {self.painting}", work, keep_on_cancel=True)) or {})

    def finished(self, context):
        r = self.result
        self.report({"INFO"}, f"Learned {self.painting} from {self.source}: {r.get('steps', '?')} steps"
                              f"{' (stopped early, best kept)' if r.get('stopped') else ''}; every job with "
                              "this painting and ccpl-r31 now uses it")


class BRUSHWORK_OT_forget_painting(bpy.types.Operator):
    """Forget what was learned for this painting: jobs paint with the general model again"""
    bl_idname = "brushwork.forget_painting"
    bl_label = "Forget"

    def execute(self, context):
        style = style_path(context.scene.brushwork)
        removed = learned.forget(style, preferences.learned_dir())
        if removed is None:
            self.report({"WARNING"}, "Nothing learned for this painting")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Forgot what was learned for {Path(style).name} ({removed.name})")
        return {"FINISHED"}


CLASSES = (BRUSHWORK_OT_learn_painting, BRUSHWORK_OT_forget_painting)
