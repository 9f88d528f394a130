"""Auto-stylize renders: F12 and Ctrl+F12 output is stylized as it is written.

Render handlers: each frame an animation render writes (`render_write`) gets a
`<name>.stylized.png` beside it, the original kept; a still render (F12, nothing written)
gets a new image `Render Result.stylized` when it completes. Each frame is stylized on
its own, while the render waits: quick and simple. For a flicker-free animation use
Stylize Animation, which shares one transformation and follows the motion vectors.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import bpy
from bpy.app.handlers import persistent

from . import jobspec, plan, preferences, renders
from .properties import check_settings
from .worker_client import Worker

_wrote = {"frames": False}   # did this render job write files (animation) or not (still)?


def _enabled(scene) -> bool:
    s = getattr(scene, "brushwork", None)
    return bool(s and not renders.OWN_RENDER["active"] and s.auto_stylize and check_settings(s) is None)


def _run(spec: dict) -> str | None:
    result = Worker(spec, preferences.python_setup()).result()
    if result.get("status") != "ok":
        print(f"Brushwork: auto-stylize failed: {result.get('message', result.get('status'))}", flush=True)
        return None
    return result["output"]


@persistent
def _on_init(scene, *_):
    _wrote["frames"] = False


@persistent
def _on_write(scene, *_):
    """A frame was written: stylize that file into `<name>.stylized.png` beside it."""
    _wrote["frames"] = True
    if not _enabled(scene):
        return
    path = Path(bpy.path.abspath(scene.render.frame_path(frame=scene.frame_current)))
    if path.is_file() and path.suffix.lower() in plan.READABLE:
        out = path.with_name(f"{path.stem}.stylized.png")
        if _run(jobspec.render_still(scene.brushwork, path, out, overwrite=True)):
            print(f"Brushwork: {out}", flush=True)


@persistent
def _on_complete(scene, *_):
    """A still render finished (nothing written): stylize the Render Result into a new image."""
    if _wrote["frames"] or not _enabled(scene):
        return
    source = renders.last_render()
    if source is None:
        return
    with tempfile.TemporaryDirectory(prefix="brushwork-") as work:
        content = Path(work) / "render.png"
        renders.save_display(source, scene, content)
        planned, made = plan.render_output(source.name)
        output = _run(jobspec.render_still(scene.brushwork, content, planned))
    if output is None:
        plan.remove_dirs(made)   # a failure leaves no trace
        return
    image = bpy.data.images.load(output, check_existing=False)
    image.name = f"{source.name}.stylized"


HANDLERS = ((bpy.app.handlers.render_init, _on_init), (bpy.app.handlers.render_write, _on_write),
            (bpy.app.handlers.render_complete, _on_complete))


def register():
    for handlers, fn in HANDLERS:
        if fn not in handlers:
            handlers.append(fn)


def unregister():
    for handlers, fn in HANDLERS:
        if fn in handlers:
            handlers.remove(fn)
