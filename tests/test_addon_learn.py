"""Learn This Painting in the add-on (Blender as a module, background mode): the painting
learned from the scope's maps into `stylized/learned/` beside the .blend, the badge's
status, a later Stylize Texture painting with it, Forget."""
import numpy as np

from blender_env import run_in_blender
from core.media.image_io import read_image
from support import scene


def test_learn_this_painting_then_every_job_uses_it_until_forgotten(tmp_path):
    proc = run_in_blender(scene(tmp_path) + '''
import sys
from pathlib import Path
learned = sys.modules[ADDON_MODULE + ".addon.learned"]
prefs = sys.modules[ADDON_MODULE + ".addon.preferences"]
settings.method = "CCPL_R31"
folder = prefs.learned_dir()
def stylize():
    assert bpy.ops.brushwork.stylize_texture() == {"FINISHED"}
    out = bpy.path.abspath(bpy.data.images["wood_basecolor.png.stylized"].filepath)
    bpy.ops.brushwork.revert_texture()
    bpy.data.images.remove(bpy.data.images["wood_basecolor.png.stylized"])
    return out
info = {"folder": str(folder), "before_status": learned.status(STYLE, folder), "general": stylize()}
info["learn"] = list(bpy.ops.brushwork.learn_painting(steps=2))
meta = learned.status(STYLE, folder)
info["status"] = {k: meta[k] for k in ("steps", "contents", "path")} if meta else None
info["badge"] = learned.describe(meta) if meta else None
info["tuned"] = stylize()
info["forget"] = list(bpy.ops.brushwork.forget_painting())
info["after_status"] = learned.status(STYLE, folder)
info["again"] = stylize()
report(info)
''', tmp_path, timeout=900)
    r = proc.result
    assert r["folder"] == str(tmp_path / "stylized" / "learned") and r["before_status"] is None
    assert r["learn"] == ["FINISHED"], proc.stdout[-2000:]
    assert "Learned painting.jpg from 1 map(s) of the scope: 2 steps" in proc.stdout
    assert r["status"]["steps"] == "2" and r["badge"] == "Learned: 2 steps"
    assert r["status"]["path"].startswith(r["folder"])
    general, tuned, again = (read_image(r[k]).color for k in ("general", "tuned", "again"))
    assert np.abs(tuned - general).mean() > 1e-3          # the learned model painted it
    assert np.array_equal(again, general)                 # forgotten: the general model again
    assert r["forget"] == ["FINISHED"] and r["after_status"] is None


def test_a_cancelled_learn_leaves_no_worker_no_temp_files_and_at_most_the_best_so_far(tmp_path):
    """Cancel from another thread (as the panel's button and Esc do) once learning has begun:
    the worker is gone, its temp folder too, and `stylized/learned/` holds nothing or one
    complete file (the best weights so far, as the operator reports), never a partial one."""
    proc = run_in_blender(scene(tmp_path) + '''
import os, sys, tempfile, threading, time
from pathlib import Path
driving = sys.modules[ADDON_MODULE + ".addon.driving"]
learned = sys.modules[ADDON_MODULE + ".addon.learned"]
prefs = sys.modules[ADDON_MODULE + ".addon.preferences"]
temp = Path(tempfile.mkdtemp(dir=str(Path(bpy.data.filepath).parent)))
tempfile.tempdir = str(temp)
def children():
    me = str(os.getpid())
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == me:
                out.append(stat.parent.name)
        except (OSError, IndexError):
            pass
    return out
def cancel_when_learning():
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and bpy.context.window_manager.brushwork_job.progress <= 0:
        time.sleep(0.05)
    driving.request_cancel()
settings.method = "CCPL_R31"
threading.Thread(target=cancel_when_learning, daemon=True).start()
result = list(bpy.ops.brushwork.learn_painting(steps=400))
time.sleep(1)
folder = prefs.learned_dir()
meta = learned.status(STYLE, folder)
report({"result": result, "running": driving.is_running(), "children": children(),
        "temp": sorted(p.name for p in temp.iterdir()),
        "files": sorted(p.name for p in folder.iterdir()) if folder.is_dir() else [],
        "steps": meta["steps"] if meta else None})
''', tmp_path, timeout=900)
    r = proc.result
    assert r["result"] == ["CANCELLED"] and not r["running"], proc.stdout[-2000:]
    assert r["children"] == [] and r["temp"] == []
    if r["files"]:   # the best so far, whole: the engine saves it atomically
        assert len(r["files"]) == 1 and r["files"][0].endswith(".safetensors")
        assert r["steps"] is not None and 0 < int(r["steps"]) < 400
    assert "the best weights learned so far were kept" in proc.stdout + proc.stderr
