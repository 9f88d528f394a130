"""The extension works the moment it is installed: no torch, no pip.

The linux-x64 zip is installed into a fresh Blender (bpy) the way "Install from Disk"
does, so Blender unpacks its wheels (onnxruntime, Pillow) into the extensions'
site-packages. The worker then runs with "Blender's own Python", here a bare Python
that has numpy only (as Blender's bundled one does) and no torch, OpenCV or OpenEXR:
Stylize Texture on a 1024² PBR map must run through onnxruntime, relink Base Color
only, and paint what the torch backend paints (within 2/255).
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from blender_env import pbr_scene, run_in_blender
from core import backends
from core.jobs import image_set
from core.jobs.spec import from_spec
from core.media.image_io import read_image
from core.engine.resample import resize
from imaging import save

DATA = Path(__file__).resolve().parent / "data"


def bare_python(tmp_path: Path) -> Path:
    """A Python with numpy alone, like Blender's: a venv without pip or site packages,
    numpy linked in from this environment."""
    env = tmp_path / "blender_python"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(env)], check=True)
    site = next((env / "lib").glob("python3.*/site-packages"))
    only = tmp_path / "blender_bundled"
    only.mkdir()
    numpy_dir = Path(np.__file__).parent
    for name in ("numpy", "numpy.libs"):
        if (numpy_dir.parent / name).exists():
            (only / name).symlink_to(numpy_dir.parent / name)
    (site / "blender_numpy.pth").write_text(str(only) + "\n")
    python = env / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import numpy\ntry:\n import torch\nexcept ImportError: print('ok')"],
                           capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                                if k != "PYTHONPATH"})
    assert probe.stdout.strip() == "ok", probe.stderr
    return python


SCENE = '''
import bpy, sys
from pathlib import Path
''' + pbr_scene(through_hue=False) + '''
sys.executable = BARE_PYTHON   # Blender's own Python: numpy, no torch
prefs = sys.modules[ADDON_MODULE + ".addon.preferences"]
plan = sys.modules[ADDON_MODULE + ".addon.plan"]
wheels = prefs.wheels_dir()
spec = plan.make(bpy.context, settings, tmp / "plan").specs[0]
check = prefs.describe(prefs.python_setup().check())
before = links()
result = list(bpy.ops.brushwork.stylize_texture())
new = bpy.data.images["wood_basecolor.png.stylized"]
report({"result": result, "check": check, "spec": spec, "before": before, "after": links(),
        "size": list(new.size), "file": bpy.path.abspath(new.filepath),
        "wheels": sorted(p.name for p in wheels.iterdir()) if wheels.is_dir() else []})
'''


@pytest.mark.skipif(not backends.has("torch"), reason="the reference picture comes from the torch backend")
def test_stylize_texture_runs_on_the_bundled_onnxruntime(tmp_path, capfd):
    bare = bare_python(tmp_path)
    for name in ("wood_basecolor.png", "wood_normal.png", "wood_roughness.png"):
        src = read_image(str(DATA / name)).color
        save(tmp_path / name, np.clip(resize(src, (1024, 1024), "both"), 0, 1))  # a 1024² tileable map
    style = save(tmp_path / "style.png", read_image(str(DATA / "painting.jpg")).color)
    head = f"TMP = {str(tmp_path)!r}\nSTYLE = {style!r}\nBARE_PYTHON = {str(bare)!r}\n"
    proc = run_in_blender(head + SCENE, tmp_path, timeout=600)
    r = proc.result
    assert r["result"] == ["FINISHED"], proc.stdout[-3000:] + proc.stderr[-3000:]
    # Blender installed this Python's wheels, and no torch came with them.
    assert any(n.startswith("onnxruntime") for n in r["wheels"]) and any(n.startswith("PIL") for n in r["wheels"])
    assert not any(n.startswith("torch") for n in r["wheels"])
    assert r["check"].startswith("Ready: Python 3.11") and "onnxruntime 1.32.0 on CPU" in r["check"], r["check"]
    assert "(files in" in proc.stdout + proc.stderr and "; onnxruntime)" in proc.stdout + proc.stderr
    # Base Color now comes from the stylized image; roughness and normal links untouched.
    changed = sorted(set(map(tuple, r["before"])) ^ set(map(tuple, r["after"])))
    mix = "Image Texture (Brushwork mix)"  # the before/after Mix of the original (A) and the result (B)
    assert changed == sorted([("Image Texture", "Principled BSDF", "Base Color"), ("Image Texture", mix, "A_Color"),
                              ("Image Texture (Brushwork)", mix, "B_Color"), (mix, "Principled BSDF", "Base Color")])
    assert r["size"] == [1024, 1024]
    out = Path(r["file"])
    assert out.name == "wood_basecolor.stylized.png" and out.parent == tmp_path / "stylized"
    # The right image: what the torch backend paints from the same job spec.
    spec = dict(r["spec"], outputs=[str(tmp_path / "torch.png")], backend="torch")
    image_set.run(from_spec(image_set.ImageSetJob, spec))
    ours, theirs = read_image(str(out)).color, read_image(spec["outputs"][0]).color
    source = read_image(str(tmp_path / "wood_basecolor.png")).color
    assert np.abs(ours - source).mean() > 0.05
    assert np.abs(ours - theirs).max() <= 2 / 255 + 1e-6
