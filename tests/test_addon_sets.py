"""Whole assets with one look (issue 25): several materials stylized in one pooled worker
job, and UDIM sets stylized tile by tile into a new tiled image.

Each test runs in a fresh Blender process (tests/blender_env.py) in background mode; the
worker specs Stylize sends are recorded by wrapping the operator module's Worker.
"""
from pathlib import Path

from blender_env import DATA, run_in_blender, sha, wood_scene

SCENE = '''
import sys
textures = sys.modules[ADDON_MODULE + ".addon.operators.textures"]
specs, seen = [], set()   # the specs sent; outputs seen on disk while the worker ran
class Recording(textures.Worker):
    def __init__(self, spec, *args, **kwargs):
        specs.append(spec)
        super().__init__(spec, *args, **kwargs)
    def poll(self):
        messages = super().poll()
        seen.update(Path(o).name for o in specs[-1]["outputs"] if Path(o).is_file())
        return messages
textures.Worker = Recording
def all_links():
    return {m.name: sorted((l.from_node.name, l.to_node.name, l.to_socket.identifier) for l in m.node_tree.links)
            for m in bpy.data.materials}
def second_material(name, file):
    """A plane beside the cube whose material's Base Color is the image TMP/file."""
    bpy.ops.mesh.primitive_plane_add(location=(3, 0, 0))
    other = bpy.data.materials.new(name)
    other.use_nodes = True
    bpy.context.active_object.data.materials.append(other)
    node = other.node_tree.nodes.new("ShaderNodeTexImage")
    node.image = bpy.data.images.load(str(Path(TMP) / file))
    other.node_tree.links.new(node.outputs["Color"], other.node_tree.nodes["Principled BSDF"].inputs["Base Color"])
def fed_by(mat):
    """The images of the stylized nodes Stylize put into the material."""
    ours = [n for n in mat.node_tree.nodes if n.get("brushwork_original")]
    return sorted(n.image.name for n in ours)
'''


def scene(tmp_path) -> str:
    return wood_scene(tmp_path, through_hue=False) + SCENE


def test_two_materials_share_one_pooled_job_and_revert_exactly(tmp_path):
    proc = run_in_blender(scene(tmp_path) + '''
shutil.copy(Path(DATA) / "photo.jpg", Path(TMP) / "photo.jpg")
second_material("Brick", "photo.jpg")
bpy.ops.object.select_all(action="DESELECT")   # the scene scope needs no selection
settings.scope = "SCENE"
out = {"one_look": settings.one_look, "selected_objects": settings.selected_objects}
before = all_links()
assert bpy.ops.brushwork.stylize_texture() == {"FINISHED"}
out["specs"] = [{k: s[k] for k in ("contents", "outputs", "pooled", "wrap")} for s in specs]
out["fed"] = {m.name: fed_by(m) for m in bpy.data.materials}
out["files"] = sorted(bpy.path.abspath(i.filepath) for i in bpy.data.images if i.name.endswith(".stylized"))
assert bpy.ops.brushwork.revert_texture() == {"FINISHED"}
out["reverted"] = all_links() == before
out["left"] = sorted(n.name for m in bpy.data.materials for n in m.node_tree.nodes if "Brushwork" in n.name)
settings.one_look = False
specs.clear()
assert bpy.ops.brushwork.stylize_texture() == {"FINISHED"}
out["per_image"] = [(len(s["contents"]), s["pooled"]) for s in specs]
report(out)
''', tmp_path, timeout=600)
    r = proc.result
    assert r["one_look"] is True and r["selected_objects"] is True
    # One worker job for both materials' maps, one transformation from their pooled statistics.
    assert len(r["specs"]) == 1
    spec = r["specs"][0]
    assert spec["pooled"] is True and spec["wrap"] == "auto"
    assert [Path(c).name for c in spec["contents"]] == ["wood_basecolor.png", "photo.jpg"]
    assert [Path(o).name for o in spec["outputs"]] == ["wood_basecolor.stylized.png", "photo.stylized.png"]
    assert r["files"] == sorted(spec["outputs"]) and all(Path(f).is_file() for f in r["files"])
    assert r["fed"] == {"Wood": ["wood_basecolor.png.stylized"], "Brick": ["photo.jpg.stylized"]}
    assert r["reverted"] and r["left"] == []
    for name in ("wood_basecolor.png", "photo.jpg"):
        assert sha(tmp_path / name) == sha(DATA / name)
    # "One look for all" off: still one job, each map its own statistics.
    assert r["per_image"] == [[2, False]]


UDIM = '''
import numpy as np
tiles = {1001: (0.8, 0.3, 0.2), 1002: (0.2, 0.6, 0.3), 1011: (0.3, 0.3, 0.8)}
for number, rgb in tiles.items():
    im = bpy.data.images.new(f"t{number}", 64, 48)
    px = np.zeros((48, 64, 4), np.float32)
    px[..., :3] = rgb
    px[..., :3] *= np.linspace(0.5, 1.0, 64)[None, :, None]
    px[::8, :, :3] = 1.0
    px[..., 3] = 1
    im.pixels.foreach_set(px.ravel())
    im.filepath_raw, im.file_format = str(Path(TMP) / f"skin.{number}.png"), "PNG"
    im.save()
    bpy.data.images.remove(im)
udim = bpy.data.images.load(str(Path(TMP) / "skin.1001.png"))
udim.source = "TILED"
colour.image = udim
'''


def test_a_udim_set_is_stylized_tile_by_tile_into_a_new_tiled_image(tmp_path):
    proc = run_in_blender(scene(tmp_path) + UDIM + '''
import hashlib
def hashes():
    return [hashlib.sha256((Path(TMP) / f"skin.{n}.png").read_bytes()).hexdigest() for n in tiles]
before, original_files = all_links(), hashes()
out = {"tiles": sorted(t.number for t in udim.tiles), "path": udim.filepath}
assert bpy.ops.brushwork.stylize_texture() == {"FINISHED"}
new = bpy.data.images["skin.1001.png.stylized"]
out["spec"] = {k: specs[0][k] for k in ("contents", "outputs", "pooled", "wrap")}
out["jobs"] = len(specs)
out["new"] = {"source": new.source, "tiles": sorted(t.number for t in new.tiles), "path": bpy.path.abspath(new.filepath),
              "colorspace": new.colorspace_settings.name, "size": list(new.size)}
out["fed"] = fed_by(mat)
out["original"] = {"source": udim.source, "path": udim.filepath, "dirty": udim.is_dirty}
assert bpy.ops.brushwork.revert_texture() == {"FINISHED"}
out["reverted"] = all_links() == before
settings.one_look = False           # a UDIM set is one image: its tiles still share statistics
specs.clear()
assert bpy.ops.brushwork.stylize_texture() == {"FINISHED"}
out["alone"] = [(len(s["contents"]), s["pooled"]) for s in specs]
out["untouched"] = hashes() == original_files
report(out)
''', tmp_path, timeout=600)
    r = proc.result
    assert r["tiles"] == [1001, 1002, 1011] and r["path"].endswith("skin.<UDIM>.png")
    spec = r["spec"]
    assert r["jobs"] == 1 and spec["pooled"] is True and spec["wrap"] == "auto"
    assert [Path(c).name for c in spec["contents"]] == ["skin.1001.png", "skin.1002.png", "skin.1011.png"]
    assert [Path(o).name for o in spec["outputs"]] == [
        "skin.stylized.1001.png", "skin.stylized.1002.png", "skin.stylized.1011.png"]
    new = r["new"]
    assert new["source"] == "TILED" and new["tiles"] == [1001, 1002, 1011]
    assert new["path"] == str(tmp_path / "stylized" / "skin.stylized.<UDIM>.png")
    assert new["colorspace"] == "sRGB" and new["size"] == [64, 48]
    assert r["fed"] == ["skin.1001.png.stylized"]
    assert r["original"] == {"source": "TILED", "path": r["path"], "dirty": False}
    assert r["reverted"]
    assert r["alone"] == [[3, True]]
    assert r["untouched"]
    written = sorted(p.name for p in (tmp_path / "stylized").iterdir())
    assert written == ["skin.stylized.001.1001.png", "skin.stylized.001.1002.png", "skin.stylized.001.1011.png",
                       "skin.stylized.1001.png", "skin.stylized.1002.png", "skin.stylized.1011.png"]


def test_emission_and_sheen_colour_maps_are_painted_only_when_asked(tmp_path):
    """Opt-in colour inputs are painted too: an emission map (light, not paint) in a job of
    its own, painted as light; a Non-Color map on them stays data."""
    proc = run_in_blender(scene(tmp_path) + '''
shutil.copy(Path(DATA) / "photo.jpg", Path(TMP) / "photo.jpg")
glow = nt.nodes.new("ShaderNodeTexImage")
glow.image = bpy.data.images.load(str(Path(TMP) / "photo.jpg"))
nt.links.new(glow.outputs["Color"], bsdf.inputs["Emission Color"])
sheen = nt.nodes.new("ShaderNodeTexImage")
sheen.image = bpy.data.images["wood_roughness.png"]           # Non-Color: data, never painted
nt.links.new(sheen.outputs["Color"], bsdf.inputs["Sheen Tint"])
out = {"items": [i.identifier for i in settings.bl_rna.properties["colour_inputs"].enum_items],
       "default": sorted(settings.colour_inputs)}
before = all_links()
assert bpy.ops.brushwork.stylize_texture() == {"FINISHED"}
out["plain"] = [[Path(c).name for c in s["contents"]] for s in specs]
assert bpy.ops.brushwork.revert_texture() == {"FINISHED"}
settings.colour_inputs = {"EMISSION", "SHEEN"}
specs.clear()
assert bpy.ops.brushwork.stylize_texture() == {"FINISHED"}
out["opted"] = [([Path(c).name for c in s["contents"]], s["pooled"]) for s in specs]
out["fed"] = fed_by(mat)
out["emission_from"] = bsdf.inputs["Emission Color"].links[0].from_node.name
out["sheen_from"] = bsdf.inputs["Sheen Tint"].links[0].from_node.name
assert bpy.ops.brushwork.revert_texture() == {"FINISHED"}
out["reverted"] = all_links() == before
report(out)
''', tmp_path, timeout=600)
    r = proc.result
    assert r["items"] == ["EMISSION", "SHEEN", "COAT"] and r["default"] == []
    assert r["plain"] == [["wood_basecolor.png"]]
    assert r["opted"] == [[["wood_basecolor.png"], True], [["photo.jpg"], False]]
    assert r["fed"] == ["photo.jpg.stylized", "wood_basecolor.png.stylized.001"]   # .001: the second run
    assert r["emission_from"] == "Image Texture.003 (Brushwork mix)" and r["sheen_from"] == "Image Texture.004"
    assert r["reverted"]


def test_a_failed_image_set_leaves_materials_and_folders_as_they_were(tmp_path):
    """Each map its own statistics; the second is damaged after the plan checked it, as the
    job starts (a sync tool rewriting it): the set reads every map before it paints any, so
    nothing is written; the error names the file, and the folder made for the results goes."""
    proc = run_in_blender(scene(tmp_path) + '''
shutil.copy(Path(TMP) / "wood_basecolor.png", Path(TMP) / "broken.png")
second_material("Broken", "broken.png")
class Damaging(textures.Worker):
    def __init__(self, *args, **kwargs):
        (Path(TMP) / "broken.png").write_bytes(b"\\x89PNG\\r\\n\\x1a\\n not a picture")
        super().__init__(*args, **kwargs)
textures.Worker = Damaging
settings.scope, settings.one_look = "SCENE", False
before, images = all_links(), sorted(i.name for i in bpy.data.images)
try:
    result = list(bpy.ops.brushwork.stylize_texture())
except RuntimeError as e:
    result = str(e)
report({"result": result, "contents": [Path(c).name for c in specs[0]["contents"]], "seen": sorted(seen),
        "same_links": all_links() == before, "same_images": sorted(i.name for i in bpy.data.images) == images})
''', tmp_path, timeout=600)
    r = proc.result
    assert r["contents"] == ["wood_basecolor.png", "broken.png"]
    assert r["seen"] == []   # checked before the first was painted
    assert "broken.png" in r["result"], r["result"]
    assert r["same_links"] and r["same_images"]
    assert not (tmp_path / "stylized").exists()
