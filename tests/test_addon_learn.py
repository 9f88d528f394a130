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
