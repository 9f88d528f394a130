"""The add-on on scenes built the way production scenes are (each case made from scratch):
node groups (an image inside one, a "house shader" holding the BSDF, nested, one group in
several materials), Separate/Combine Color, swatches too small to paint, every image
format Blender reads, packed and generated images, linked library data, collection
instances, emission maps, relative paths.

Each test runs Blender (the `bpy` module) in a fresh process with the built extension
installed (tests/blender_env.py); Whole Scene paints every paintable map in one job.
"""
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from blender_env import run_in_blender, sha
from core.media.image_io import read_image
from imaging import photo, save

DATA = Path(__file__).resolve().parent / "data"

# Blender-side helpers: build materials, follow Base Color to the image that shows, and
# snapshot every node tree's links (for Revert).
_HELPERS = '''
import bpy
from pathlib import Path
TMP = Path(TMP)

def bsdf_material(name, obj=None):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    if obj is None:
        bpy.ops.mesh.primitive_plane_add()
        obj = bpy.context.active_object
    obj.data.materials.append(mat)
    return mat, mat.node_tree, mat.node_tree.nodes["Principled BSDF"]

def tex(tree, image):
    node = tree.nodes.new("ShaderNodeTexImage")
    node.image = image if isinstance(image, bpy.types.Image) else bpy.data.images.load(str(TMP / image))
    return node

def group(name, inputs=(), outputs=()):
    g = bpy.data.node_groups.new(name, "ShaderNodeTree")
    for sock_name, kind in inputs:
        g.interface.new_socket(sock_name, in_out="INPUT", socket_type=kind)
    for sock_name, kind in outputs:
        g.interface.new_socket(sock_name, in_out="OUTPUT", socket_type=kind)
    return g, g.nodes.new("NodeGroupInput"), g.nodes.new("NodeGroupOutput")

def use_group(tree, g):
    node = tree.nodes.new("ShaderNodeGroup")
    node.node_tree = g
    return node

def shows(socket, path=()):
    """The image whose colour reaches `socket` as things are linked now: through our
    before/after Mix (its B side at factor 1), pass-through nodes, Separate/Combine and groups."""
    if not socket.links:
        return None
    link = socket.links[0]
    node, out = link.from_node, link.from_socket
    tree = link.id_data
    if node.type == "TEX_IMAGE":
        return node.image.name
    if node.type == "MIX":
        return shows(next(s for s in node.inputs if s.identifier == ("B_Color" if node.inputs[0].default_value > 0.5 else "A_Color")), path)
    if node.type in ("HUE_SAT", "REROUTE", "GAMMA", "INVERT", "BRIGHTCONTRAST", "CURVE_RGB"):
        return shows(next(s for s in node.inputs if s.type == "RGBA" and s.is_linked), path)
    if node.type == "COMBINE_COLOR":
        return shows(node.inputs[0].links[0].from_node.inputs[0], path)
    if node.type == "GROUP":
        gout = next(n for n in node.node_tree.nodes if n.type == "GROUP_OUTPUT")
        return shows(next(s for s in gout.inputs if s.identifier == out.identifier), path + (node,))
    if node.type == "GROUP_INPUT":
        outer = path[-1]
        return shows(next(s for s in outer.inputs if s.identifier == out.identifier), path[:-1])
    return "?" + node.type

def base_colour_shows(mat):
    """What every Principled BSDF's Base Color shows, in the material and its groups."""
    seen = []
    def visit(tree, path):
        for n in tree.nodes:
            if n.type == "BSDF_PRINCIPLED":
                seen.append(shows(n.inputs["Base Color"], path))
            elif n.type == "GROUP":
                visit(n.node_tree, path + (n,))
    visit(mat.node_tree, ())
    return seen

def all_links():
    trees = [("M", m.name, m.node_tree) for m in bpy.data.materials if m.node_tree and not m.library]
    trees += [("G", g.name, g) for g in bpy.data.node_groups if not g.library]
    return sorted((k, n, l.from_node.name, l.from_socket.identifier, l.to_node.name, l.to_socket.identifier)
                  for k, n, t in trees for l in t.links)

def node_count():
    return {m.name: len(m.node_tree.nodes) for m in bpy.data.materials if m.node_tree}
'''


def _maps(tmp_path, names, size=64):
    for i, name in enumerate(names):
        save(tmp_path / name, photo(size, size, seed=i))


def _script(tmp_path, body: str) -> str:
    return f"TMP = {str(tmp_path)!r}\nSTYLE = {str(DATA / 'painting.jpg')!r}\n" + _HELPERS + body


def test_whole_scene_through_groups_separate_combine_and_small_swatches(tmp_path):
    """One Whole Scene run over a production-like scene: every paintable map painted and
    relinked where it lives (inside groups once), every unpaintable one named and left."""
    _maps(tmp_path, ["direct.png", "inner.png", "house.png", "nested.png", "shared.png", "split.png",
                     "hsv.png", "swapped.png", "instanced.png"])
    save(tmp_path / "swatch.png", photo(16, 16, seed=20))
    save(tmp_path / "strip.png", photo(1, 46, seed=21))
    proc = run_in_blender(_script(tmp_path, '''
bpy.ops.wm.read_homefile(use_empty=True)
# 1. plain: image -> Base Color
m, t, b = bsdf_material("Direct"); t.links.new(tex(t, "direct.png").outputs["Color"], b.inputs["Base Color"])
# 2. image inside a group whose output feeds Base Color
g, gi, go = group("InnerTex", outputs=[("Color", "NodeSocketColor")])
g.links.new(tex(g, "inner.png").outputs["Color"], go.inputs["Color"])
m, t, b = bsdf_material("InGroup"); t.links.new(use_group(t, g).outputs["Color"], b.inputs["Base Color"])
# 3. house shader: the BSDF inside a group, the image outside feeding its input
hs, hi, ho = group("HouseShader", inputs=[("Base", "NodeSocketColor")], outputs=[("Shader", "NodeSocketShader")])
hb = hs.nodes.new("ShaderNodeBsdfPrincipled")
hue = hs.nodes.new("ShaderNodeHueSaturation")
hs.links.new(hi.outputs["Base"], hue.inputs["Color"]); hs.links.new(hue.outputs["Color"], hb.inputs["Base Color"])
hs.links.new(hb.outputs["BSDF"], ho.inputs["Shader"])
m, t, b = bsdf_material("House"); t.nodes.remove(b)
hn = use_group(t, hs)
t.links.new(tex(t, "house.png").outputs["Color"], hn.inputs["Base"])
t.links.new(hn.outputs["Shader"], t.nodes["Material Output"].inputs["Surface"])
# 4. nested: group Outer holds group Inner2 (image inside), through a reroute
i2, _, i2o = group("Inner2", outputs=[("Color", "NodeSocketColor")])
i2.links.new(tex(i2, "nested.png").outputs["Color"], i2o.inputs["Color"])
o, _, oo = group("Outer", outputs=[("Color", "NodeSocketColor")])
rr = o.nodes.new("NodeReroute")
o.links.new(use_group(o, i2).outputs["Color"], rr.inputs[0]); o.links.new(rr.outputs[0], oo.inputs["Color"])
m, t, b = bsdf_material("Nested"); t.links.new(use_group(t, o).outputs["Color"], b.inputs["Base Color"])
# 5. one image in six materials: five through one group, one outside
sg, _, sgo = group("SharedTex", outputs=[("Color", "NodeSocketColor")])
shared = bpy.data.images.load(str(TMP / "shared.png"))
sg.links.new(tex(sg, shared).outputs["Color"], sgo.inputs["Color"])
for k in range(5):
    m, t, b = bsdf_material(f"Shared{k}"); t.links.new(use_group(t, sg).outputs["Color"], b.inputs["Base Color"])
m, t, b = bsdf_material("SharedOutside"); t.links.new(tex(t, shared).outputs["Color"], b.inputs["Base Color"])
# 6. Separate Color -> Combine Color, channels unchanged (RGB, and HSV), and swapped (not colour)
for name, image, mode, order in (("SplitRGB", "split.png", "RGB", (0, 1, 2)), ("SplitHSV", "hsv.png", "HSV", (0, 1, 2)),
                                 ("Swapped", "swapped.png", "RGB", (1, 0, 2))):
    m, t, b = bsdf_material(name)
    sep, com = t.nodes.new("ShaderNodeSeparateColor"), t.nodes.new("ShaderNodeCombineColor")
    sep.mode = com.mode = mode
    t.links.new(tex(t, image).outputs["Color"], sep.inputs["Color"])
    for i, j in enumerate(order):
        t.links.new(sep.outputs[j], com.inputs[i])
    t.links.new(com.outputs["Color"], b.inputs["Base Color"])
# 7. an object only shown through a collection instance
props = bpy.data.collections.new("Props")
m, t, b = bsdf_material("Instanced")
obj = bpy.context.active_object
for c in obj.users_collection:
    c.objects.unlink(obj)
props.objects.link(obj)
t.links.new(tex(t, "instanced.png").outputs["Color"], b.inputs["Base Color"])
inst = bpy.data.objects.new("PropsInstance", None)
inst.instance_type, inst.instance_collection = "COLLECTION", props
bpy.context.scene.collection.objects.link(inst)
# 8. too small to paint: a 16x16 swatch (packed, as swatches often are) and a 46x1 palette strip
m, t, b = bsdf_material("Swatch"); sw = tex(t, "swatch.png"); sw.image.pack()
t.links.new(sw.outputs["Color"], b.inputs["Base Color"])
m, t, b = bsdf_material("Palette"); t.links.new(tex(t, "strip.png").outputs["Color"], b.inputs["Base Color"])
# 9. a missing file
import shutil, os
shutil.copy(TMP / "direct.png", TMP / "gone.png")
m, t, b = bsdf_material("Missing"); mi = tex(t, "gone.png")
os.remove(TMP / "gone.png")   # moved away after the scene was made
t.links.new(mi.outputs["Color"], b.inputs["Base Color"])

bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "scene.blend"))
s = bpy.context.scene.brushwork
s.style_image, s.method, s.scope = STYLE, "WCT_R31", "SCENE"
before = all_links()
result = list(bpy.ops.brushwork.stylize_texture())
info = {"result": result, "shows": {m.name: base_colour_shows(m) for m in bpy.data.materials},
        "images": sorted(i.name for i in bpy.data.images),
        "ours": {g.name: sum(1 for n in g.nodes if n.get("brushwork_original")) for g in bpy.data.node_groups},
        "ours_mat": {m.name: sum(1 for n in m.node_tree.nodes if n.get("brushwork_original")) for m in bpy.data.materials}}
bpy.data.materials["Shared0"].brushwork_mix = 0.0   # the slider reaches the mix inside the group
info["mixed_back"] = base_colour_shows(bpy.data.materials["Shared3"])
bpy.data.materials["Shared0"].brushwork_mix = 1.0
info["revert"] = list(bpy.ops.brushwork.revert_texture())
info["reverted_exactly"] = all_links() == before
report(info)
'''), tmp_path, timeout=400)
    r = proc.result
    assert r["result"] == ["FINISHED"], proc.stdout[-3000:]
    shows = r["shows"]
    for mat, image in (("Direct", "direct.png"), ("InGroup", "inner.png"), ("House", "house.png"),
                       ("Nested", "nested.png"), ("SplitRGB", "split.png"), ("SplitHSV", "hsv.png"),
                       ("Instanced", "instanced.png"), *((f"Shared{k}", "shared.png") for k in range(5)),
                       ("SharedOutside", "shared.png")):
        assert shows[mat] == [f"{image}.stylized"], (mat, shows[mat])
    # not colour, or not paintable: left as they were
    assert shows["Swapped"] == ["swapped.png"] and "swapped.png.stylized" not in r["images"]
    assert shows["Swatch"] == ["swatch.png"] and shows["Palette"] == ["strip.png"]
    # the shared group's image painted once and linked once, inside the group
    assert r["images"].count("shared.png.stylized") == 1
    assert r["ours"]["SharedTex"] == 1 and r["ours"]["InnerTex"] == 1 and r["ours"]["Inner2"] == 1
    assert r["ours_mat"]["SharedOutside"] == 1 and r["ours_mat"]["House"] == 1
    assert all(r["ours_mat"][f"Shared{k}"] == 0 for k in range(5))
    assert r["mixed_back"] == ["shared.png"]
    # every skipped map named once, as the artist knows it, and why
    out = proc.stdout
    assert "swatch.png (in Swatch): 16×16 is too small to paint" in out
    assert "strip.png (in Palette): 46×1 is too small to paint" in out
    assert "gone.png (in Missing): file not found" in out
    assert "brushwork-" not in out.split("Stylized")[0]   # no temp copy named
    assert r["revert"] == ["FINISHED"] and r["reverted_exactly"]
    for name in ("direct.png", "inner.png", "shared.png"):
        assert sha(tmp_path / name) != "" and (tmp_path / "stylized" / name.replace(".png", ".stylized.png")).is_file()


def test_every_format_blender_reads_is_painted(tmp_path):
    """PNG, JPEG, TGA, BMP, TIFF, WebP, 16-bit PNG, EXR, HDR on disk; packed PNG and TGA;
    a generated image: all painted in one job (the engine is handed PNG or EXR copies)."""
    pic = (photo(64, 64, seed=3) * 255).round().astype(np.uint8)
    for ext in ("tga", "bmp", "webp"):
        Image.fromarray(pic).save(tmp_path / f"m.{ext}")
    Image.fromarray(pic).save(tmp_path / "p.tga")   # packed below
    save(tmp_path / "m.png", photo(64, 64, seed=3))
    save(tmp_path / "p.png", photo(64, 64, seed=4))
    Image.fromarray(pic).save(tmp_path / "m.jpg", quality=95)
    cv2.imwrite(str(tmp_path / "m.tif"), pic[..., ::-1])
    cv2.imwrite(str(tmp_path / "m16.png"), (photo(64, 64, seed=5)[..., ::-1] * 65535).astype(np.uint16))
    save(tmp_path / "m.exr", photo(64, 64, seed=6) ** 2.2, dtype=np.float32, linear=True)
    cv2.imwrite(str(tmp_path / "m.hdr"), (photo(64, 64, seed=7)[..., ::-1] ** 2.2).astype(np.float32))
    files = ["m.png", "m.jpg", "m.tga", "m.bmp", "m.tif", "m.webp", "m16.png", "m.exr", "m.hdr", "p.png", "p.tga"]
    digests = {f: sha(tmp_path / f) for f in files}
    proc = run_in_blender(_script(tmp_path, f'''
bpy.ops.wm.read_homefile(use_empty=True)
for name in {files!r}:
    m, t, b = bsdf_material("M_" + name)
    node = tex(t, name)
    if name.startswith("p."):
        node.image.pack()
    t.links.new(node.outputs["Color"], b.inputs["Base Color"])
m, t, b = bsdf_material("M_generated")
gen = bpy.data.images.new("generated", 64, 64); gen.generated_type = "COLOR_GRID"
node = tex(t, gen); t.links.new(node.outputs["Color"], b.inputs["Base Color"])
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "formats.blend"))
s = bpy.context.scene.brushwork
s.style_image, s.method, s.scope = STYLE, "WCT_R31", "SCENE"
result = list(bpy.ops.brushwork.stylize_texture())
info = {{"result": result, "shows": {{m.name: base_colour_shows(m) for m in bpy.data.materials}}, "new": {{}}}}
for img in bpy.data.images:
    if img.name.endswith(".stylized"):
        info["new"][img.name] = [list(img.size), bpy.path.abspath(img.filepath), img.colorspace_settings.name]
info["packed_dirty"] = [bpy.data.images[n].is_dirty for n in ("p.png", "p.tga")]
report(info)
'''), tmp_path, timeout=400)
    r = proc.result
    assert r["result"] == ["FINISHED"], proc.stdout[-3000:]
    for name in [*files, "generated"]:
        assert r["shows"][f"M_{name}"] == [f"{name}.stylized"], (name, r["shows"][f"M_{name}"])
        size, path, space = r["new"][f"{name}.stylized"]
        assert size == [64, 64] and Path(path).is_file()
        float_source = name in ("m16.png", "m.exr", "m.hdr")
        assert Path(path).suffix == (".exr" if float_source else ".png"), name
        assert (space == "sRGB") != float_source, (name, space)   # float results are scene-linear
    # painted, and the original pixels untouched on disk and in the file
    tga = read_image(r["new"]["m.tga.stylized"][1]).color
    assert np.abs(tga - pic / 255).mean() > 0.05
    assert {f: sha(tmp_path / f) for f in files} == digests
    assert r["packed_dirty"] == [False, False]


def test_linked_library_is_left_alone_and_paths_are_relative(tmp_path):
    """A collection linked from another .blend and shown through an instance: its material
    is named and left untouched (no node added to read-only data), the local one painted
    with a path relative to the .blend; both still so after save and reopen."""
    (tmp_path / "lib").mkdir()
    save(tmp_path / "lib" / "libwood.png", photo(64, 64, seed=8))
    save(tmp_path / "local.png", photo(64, 64, seed=9))
    proc = run_in_blender(_script(tmp_path, '''
bpy.ops.wm.read_homefile(use_empty=True)
assets = bpy.data.collections.new("Assets")
bpy.context.scene.collection.children.link(assets)
m, t, b = bsdf_material("LibWood")
obj = bpy.context.active_object
for c in obj.users_collection:
    c.objects.unlink(obj)
assets.objects.link(obj)
t.links.new(tex(t, str(TMP / "lib" / "libwood.png")).outputs["Color"], b.inputs["Base Color"])
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "lib" / "assets.blend"), relative_remap=True)

bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "shot.blend"))
with bpy.data.libraries.load(str(TMP / "lib" / "assets.blend"), link=True, relative=True) as (src, dst):
    dst.collections = ["Assets"]
inst = bpy.data.objects.new("AssetsInstance", None)
inst.instance_type, inst.instance_collection = "COLLECTION", dst.collections[0]
bpy.context.scene.collection.objects.link(inst)
m, t, b = bsdf_material("Local")
local = bpy.data.images.load("//local.png")
t.links.new(tex(t, local).outputs["Color"], b.inputs["Base Color"])
bpy.ops.wm.save_mainfile()
s = bpy.context.scene.brushwork
s.style_image, s.method, s.scope = STYLE, "WCT_R31", "SCENE"
nodes_before = node_count()
result = list(bpy.ops.brushwork.stylize_texture())
info = {"result": result, "nodes_before": nodes_before, "nodes_after": node_count(),
        "local_path": bpy.data.images["local.png.stylized"].filepath,
        "lib_shows": base_colour_shows(bpy.data.materials["LibWood"])}
bpy.ops.wm.save_mainfile()
bpy.ops.wm.open_mainfile(filepath=str(TMP / "shot.blend"))
info["reopened"] = {m.name: base_colour_shows(m) for m in bpy.data.materials}
info["reopened_nodes"] = node_count()
info["reopened_path"] = bpy.data.images["local.png.stylized"].filepath
info["loads"] = list(bpy.data.images["local.png.stylized"].size)   # size loads it
report(info)
'''), tmp_path, timeout=400)
    r = proc.result
    assert r["result"] == ["FINISHED"], proc.stdout[-3000:]
    assert "Skipped libwood.png in material 'LibWood' is linked from //lib/assets.blend" in proc.stdout
    assert "make it local" in proc.stdout
    assert r["nodes_after"]["LibWood"] == r["nodes_before"]["LibWood"]
    assert r["lib_shows"] == ["libwood.png"]
    assert r["local_path"] == "//stylized/local.stylized.png" == r["reopened_path"]
    assert r["reopened"] == {"LibWood": ["libwood.png"], "Local": ["local.png.stylized"]}
    assert r["loads"] == [64, 64]


def test_emission_is_painted_as_light_and_a_scene_of_unpaintable_maps_says_so(tmp_path):
    emissive = np.zeros((64, 64, 3), np.float32)
    emissive[10:30, 8:50] = (0.1, 0.9, 1.0)
    save(tmp_path / "emissive.png", emissive)
    save(tmp_path / "base.png", photo(64, 64, seed=10))
    save(tmp_path / "tiny.png", photo(8, 8, seed=11))
    proc = run_in_blender(_script(tmp_path, '''
bpy.ops.wm.read_homefile(use_empty=True)
m, t, b = bsdf_material("Helmet")
t.links.new(tex(t, "base.png").outputs["Color"], b.inputs["Base Color"])
t.links.new(tex(t, "emissive.png").outputs["Color"], b.inputs["Emission Color"])
b.inputs["Emission Strength"].default_value = 1.0
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "helmet.blend"))
s = bpy.context.scene.brushwork
s.style_image, s.method, s.scope = STYLE, "WCT_R31", "SCENE"
s.colour_inputs = {"EMISSION"}
info = {"result": list(bpy.ops.brushwork.stylize_texture())}
info["files"] = {i.name: bpy.path.abspath(i.filepath) for i in bpy.data.images if i.name.endswith(".stylized")}
emit = b.inputs["Emission Color"].links[0].from_node
info["emission_mix"] = emit.type
# a scene whose only map cannot be painted
bpy.ops.wm.read_homefile(use_empty=True)
m, t, b = bsdf_material("Tiny")
t.links.new(tex(t, "tiny.png").outputs["Color"], b.inputs["Base Color"])
s = bpy.context.scene.brushwork
s.style_image, s.method, s.scope = STYLE, "WCT_R31", "SCENE"
try:
    info["tiny"] = list(bpy.ops.brushwork.stylize_texture())
except RuntimeError as e:            # operator errors surface as RuntimeError in scripts
    info["tiny"] = str(e)
report(info)
'''), tmp_path, timeout=400)
    r = proc.result
    assert r["result"] == ["FINISHED"], proc.stdout[-3000:]
    assert r["emission_mix"] == "MIX"
    light = read_image(r["files"]["emissive.png.stylized"]).color
    black = emissive.max(axis=2) == 0
    assert light[black].max() <= 2 / 255                   # black stays black
    assert light[~black].mean() > 0.2                      # what glows still glows
    base = read_image(r["files"]["base.png.stylized"]).color
    assert np.abs(base - photo(64, 64, seed=10)).mean() > 0.05   # the base colour painted as paint
    assert r["tiny"].startswith("Error: Nothing to paint: skipped tiny.png (in Tiny): 8×8 is too small to paint")
    assert len(r["tiny"].splitlines()) == 1


def test_the_preview_paints_a_long_strip_the_full_job_paints(tmp_path):
    """A 2000×40 map (a trim sheet's strip): the quick preview keeps the short side at 32 px,
    so it paints what Stylize Texture paints instead of refusing a 512×10 copy."""
    save(tmp_path / "strip.png", photo(40, 2000, seed=12))
    proc = run_in_blender(_script(tmp_path, '''
bpy.ops.wm.read_homefile(use_empty=True)
m, t, b = bsdf_material("Trim")
t.links.new(tex(t, "strip.png").outputs["Color"], b.inputs["Base Color"])
s = bpy.context.scene.brushwork
s.style_image, s.method = STYLE, "WCT_R31"
bpy.context.view_layer.objects.active = bpy.context.scene.objects[0]
result = list(bpy.ops.brushwork.preview_texture())
preview = [list(i.size) for i in bpy.data.images if "review" in i.name]
report({"result": result, "preview": preview, "said": bpy.context.window_manager.brushwork_job.preview})
'''), tmp_path, timeout=300)
    r = proc.result
    assert r["result"] == ["FINISHED"], proc.stdout[-2000:]
    assert r["preview"] == [[1600, 32]] and "1600×32 of 2000×40" in r["said"]
