"""The Blender add-on, installed from the built extension zip into Blender (the `bpy` module).

Each test runs in a fresh Blender process (tests/blender_env.py) in background mode,
where Stylize runs its worker jobs synchronously: the same operator a pipeline calls.
"""
import ast
import re
import tempfile
from pathlib import Path

import numpy as np

from blender_env import run_in_blender, sha
from support import scene
from core.media.image_io import read_image
from core.engine.names import METHOD_FILES, METHOD_INFO
from core.engine.tileable import detect_wrap

DATA = Path(__file__).resolve().parent / "data"
ROOT = DATA.parent.parent



def test_stylize_and_revert_a_pbr_material(tmp_path):
    proc = run_in_blender(scene(tmp_path) + '''
before = links()
assert bpy.ops.brushwork.stylize_texture() == {"FINISHED"}
new = bpy.data.images["wood_basecolor.png.stylized"]
after = links()
original = bpy.data.images["wood_basecolor.png"]
info = {"before": before, "after": after, "size": list(new.size), "colorspace": new.colorspace_settings.name,
        "file": bpy.path.abspath(new.filepath), "original_path": original.filepath,
        "original_dirty": original.is_dirty, "images": sorted(i.name for i in bpy.data.images)}
assert bpy.ops.brushwork.revert_texture() == {"FINISHED"}
info["reverted"] = links()
info["revert_again"] = list(bpy.ops.brushwork.revert_texture())
report(info)
''', tmp_path)
    r = {k: sorted(map(tuple, v)) if k in ("before", "after", "reverted") else v
         for k, v in proc.result.items()}
    # Base Color now comes from a before/after Mix of the original (A) and the new node (B),
    # through the same Hue/Saturation node.
    mix = "Image Texture (Brushwork mix)"
    assert set(r["before"]) ^ set(r["after"]) == {
        ("Image Texture", "Hue/Saturation/Value", "Color"), ("Image Texture", mix, "A_Color"),
        ("Image Texture (Brushwork)", mix, "B_Color"), (mix, "Hue/Saturation/Value", "Color")}
    # The data maps are untouched: same links, no stylized copies.
    assert ("Image Texture.001", "Principled BSDF", "Roughness") in r["after"]
    assert ("Image Texture.002", "Normal Map", "Color") in r["after"]
    assert r["images"] == ["wood_basecolor.png", "wood_basecolor.png.stylized", "wood_normal.png",
                           "wood_roughness.png"]
    assert r["size"] == [256, 256] and r["colorspace"] == "sRGB"
    out = Path(r["file"])
    assert out.parent == tmp_path / "stylized" and out.name == "wood_basecolor.stylized.png"
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
    # Originals are never written, on disk or in the .blend.
    for name in ("wood_basecolor.png", "wood_normal.png", "wood_roughness.png"):
        assert sha(tmp_path / name) == sha(DATA / name)
    assert not r["original_dirty"] and r["original_path"].endswith("wood_basecolor.png")
    # A stylized texture: different from the original, still tileable like it.
    result, source = read_image(str(out)).color, read_image(str(DATA / "wood_basecolor.png")).color
    assert np.abs(result - source).mean() > 0.05
    assert detect_wrap(source) == "both"
    for axis in (0, 1):  # no seam: the jump across each edge is one the inside has too
        img = np.moveaxis(result, axis, 1)
        inside = np.abs(np.diff(img, axis=1)).mean(axis=(0, 2))
        assert np.abs(img[:, -1] - img[:, 0]).mean() <= inside.max()
    assert r["reverted"] == r["before"]
    assert r["revert_again"] == ["CANCELLED"]


def test_stylizing_twice_replaces_the_stylized_node_keeps_both_files_and_packs_on_request(tmp_path):
    proc = run_in_blender(scene(tmp_path) + '''
bpy.ops.brushwork.stylize_texture()
bpy.context.scene.brushwork.strength = 0.5
bpy.context.scene.brushwork.pack = True
bpy.ops.brushwork.stylize_texture()
ours = [n for n in nt.nodes if n.get("brushwork_original")]
report({"ours": [n.image.name for n in ours], "feeds": [l.to_node.name for l in ours[0].outputs["Color"].links],
        "mixes": [n.name for n in nt.nodes if n.get("brushwork_mix")],
        "packed": [i.name for i in bpy.data.images if i.packed_file]})
''', tmp_path)
    assert proc.result == {"ours": ["wood_basecolor.png.stylized.001"], "feeds": ["Image Texture (Brushwork mix)"],
                           "mixes": ["Image Texture (Brushwork mix)"], "packed": ["wood_basecolor.png.stylized.001"]}
    assert sorted(p.name for p in (tmp_path / "stylized").iterdir()) == [
        "wood_basecolor.stylized.001.png", "wood_basecolor.stylized.png"]


def test_cancel_leaves_the_material_and_folders_as_they_were(tmp_path):
    """Cancel from another thread (as the panel's button does) while the worker runs."""
    proc = run_in_blender(scene(tmp_path) + '''
import sys, threading, time
ops = sys.modules[ADDON_MODULE + ".addon.driving"]
before = links()
images = sorted(i.name for i in bpy.data.images)
def cancel_when_working():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and bpy.context.window_manager.brushwork_job.progress <= 0:
        time.sleep(0.05)
    ops.request_cancel()
bpy.context.scene.brushwork.tile = 128          # many small tiles: a cancel lands mid-job
bpy.context.scene.brushwork.style_scale = 0.25  # 4x the pixels: slow enough to catch
threading.Thread(target=cancel_when_working, daemon=True).start()
result = bpy.ops.brushwork.stylize_texture()
report({"result": list(result), "same_links": links() == before,
        "same_images": sorted(i.name for i in bpy.data.images) == images,
        "running": ops.is_running()})
''', tmp_path)
    assert proc.result == {"result": ["CANCELLED"], "same_links": True, "same_images": True, "running": False}
    assert not (tmp_path / "stylized").exists()
    assert "nothing was changed" in proc.stdout + proc.stderr


def test_clear_refusals_and_the_scripting_interface(tmp_path):
    proc = run_in_blender(scene(tmp_path) + '''
import sys
out = {}
settings = bpy.context.scene.brushwork
out["methods"] = [i.identifier for i in settings.bl_rna.properties["method"].enum_items]
def attempt():
    try:
        return list(bpy.ops.brushwork.stylize_texture())
    except RuntimeError as e:          # operator errors surface as RuntimeError in scripts
        return str(e).strip()
settings.style_image = ""
out["no_style"] = attempt()
settings.style_image = str(Path(DATA) / "missing.jpg")
out["missing_style"] = attempt()
settings.style_image = str(Path(DATA) / "painting.jpg")
# A material whose Base Color is fed only by a Non-Color image: nothing to stylize.
colour.image.colorspace_settings.name = "Non-Color"
out["data_only"] = attempt()
colour.image.colorspace_settings.name = "sRGB"
# The menu offers only methods whose networks ship, so an untrained method can no longer be
# picked; a .blend saved where one shipped still stores its number: a clear error, not a
# quiet switch to another method.
names = sys.modules[ADDON_MODULE + ".core.engine.names"]
missing = [n for n, files in names.METHOD_FILES.items()
           if not all((PACKAGE_ROOT / "models" / f).is_file() for f in files)]
out["missing"] = missing
if missing:
    settings["method"] = names.METHOD_INFO[missing[0]][0]
    out["untrained"] = attempt()
settings.method = "AUTO"
out["images"] = sorted(i.name for i in bpy.data.images)
prefs = sys.modules[ADDON_MODULE + ".addon.preferences"]
out["check"] = prefs.describe(prefs.python_setup().check())
out["install_poll"] = bpy.ops.brushwork.install_dependencies.poll()
report(out)
''', tmp_path)
    r = proc.result
    # The menu: Best available, then every method whose networks ship, in core's order.
    shipped = [n for n, files in METHOD_FILES.items() if all((ROOT / "models" / f).is_file() for f in files)]
    assert r["methods"] == ["AUTO"] + [n.upper().replace("-", "_") for n in METHOD_INFO if n in shipped]
    assert {"LINEAR_R31", "CCPL_R31", "WCT_R31"} <= set(r["methods"])
    assert sorted(r["missing"]) == sorted(set(METHOD_INFO) - set(shipped))
    assert "Pick a style image" in r["no_style"]
    assert "Style image not found" in r["missing_style"] and "missing.jpg" in r["missing_style"]
    assert "Nothing to paint: skipped wood_basecolor.png (in Wood): colour space 'Non-Color' is data" in r["data_only"]
    if r["missing"]:
        untrained = r["missing"][0]
        assert f"({untrained}), saved in this .blend, is not installed" in r["untrained"], r["untrained"]
    assert r["images"] == ["wood_basecolor.png", "wood_normal.png", "wood_roughness.png"]
    assert r["check"].startswith("Ready: Python 3.") and "torch 2." in r["check"] and "wct-r31" in r["check"]
    assert r["install_poll"] is False  # Blender here has online access off: no download
    assert not (tmp_path / "stylized").exists()


def test_install_list_matches_requirements():
    """The dependencies the preferences install are the ones the engine is tested with."""
    tree = ast.parse((ROOT / "addon" / "preferences.py").read_text())
    listed = next(ast.literal_eval(node.value) for node in tree.body
                  if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "REQUIREMENTS")
    pins = [re.split(r"\s+#", line)[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert sorted(listed) == sorted(p for p in pins if p and not p.startswith("#"))


def test_panels_and_preferences_draw_every_setting(tmp_path):
    """Draw the panel and preferences into a recording layout (no UI in background mode):
    every property they show exists, and the controls the issue asks for are there."""
    proc = run_in_blender(scene(tmp_path) + '''
import sys
shown, ops = [], []
class Layout:
    def __getattr__(self, name):           # column/row/box/separator/... all give a layout
        return lambda *a, **k: Layout()
    def prop(self, data, name, **k):
        assert name in data.bl_rna.properties, name
        shown.append(name)
    def operator(self, idname, **k):
        mod, op = idname.split(".")
        assert hasattr(getattr(bpy.ops, mod), op), idname
        ops.append(idname)
        return type("Props", (), {})()
panels = sys.modules[ADDON_MODULE + ".addon.panels"]
panels.draw(Layout(), bpy.context)
prefs_mod = sys.modules[ADDON_MODULE + ".addon.preferences"]
prefs = prefs_mod.get()
for source in ("BLENDER", "CUSTOM"):
    prefs.python_source = source
    proxy = type("P", (), {"layout": Layout(), "python_source": source, "python_path": "",
                           "bl_rna": prefs.bl_rna})()
    type(prefs).draw(proxy, bpy.context)
prefs.python_source, prefs.python_path = "CUSTOM", str(Path(TMP) / "no-python")
report({"shown": shown, "ops": ops, "custom": prefs_mod.describe(prefs_mod.python_setup().check())})
''', tmp_path)
    r = proc.result
    assert {"style_image", "method", "strength", "preserve_color", "style_scale", "tileable", "device",
            "scope", "one_look", "pack", "python_source", "python_path"} <= set(r["shown"])
    assert {"brushwork.stylize_texture", "brushwork.revert_texture", "brushwork.install_dependencies",
            "brushwork.check_setup"} <= set(r["ops"])
    assert r["custom"].startswith("Not ready:") and "no-python" in r["custom"]


def test_an_image_only_blender_holds_is_saved_as_a_copy_first(tmp_path):
    """A generated (never saved) image feeding Base Color: stylized from a temporary copy,
    the original datablock keeps no file path and stays generated."""
    proc = run_in_blender(scene(tmp_path) + '''
grid = bpy.data.images.new("Grid", 128, 128)
grid.generated_type = "COLOR_GRID"
colour.image = grid
assert bpy.ops.brushwork.stylize_texture() == {"FINISHED"}
new = bpy.data.images["Grid.stylized"]
report({"source": grid.source, "path": grid.filepath, "size": list(new.size),
        "file": bpy.path.abspath(new.filepath), "feeds": [l.from_node.name for l in hue.inputs["Color"].links]})
''', tmp_path)
    r = proc.result
    assert r["source"] == "GENERATED" and r["path"] == ""
    assert r["size"] == [128, 128] and r["feeds"] == ["Image Texture (Brushwork mix)"]
    assert Path(r["file"]) == tmp_path / "stylized" / "Grid.stylized.png"
    temp = Path(tempfile.gettempdir())
    assert not list(temp.glob("brushwork*/**/Grid.source.png"))  # the copy went with the run
