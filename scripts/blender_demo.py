"""Render a textured PBR object with Cycles, Stylize Texture it, render again: before/after PNGs.

    python scripts/blender_demo.py [--style IMG] [--textures DIR] [--method WCT_R31] [--out docs]
    blender -b -P scripts/blender_demo.py -- [same options]

Runs the add-on exactly as an artist's click does (bpy.ops.brushwork.stylize_texture on
the active material). With the `bpy` module, or a Blender without the extension
installed, the add-on is registered from a staged copy of this checkout first.
`--textures DIR` takes a folder with *_basecolor, *_roughness and *_normal PNGs
(default: the small wood set in tests/data). `--depth` instead renders a row of
cubes receding from the camera and writes depth-before/after PNGs: Stylize Render alone,
and with Depth-Aware Strokes (focus on the nearest cubes). `--two-materials` renders a wood
cube beside a tiled one (issue 25, "one look across materials") and writes
two-materials-before/one-look/separate PNGs: Stylize Texture on the Whole Scene with
One look for all on (one transformation from both maps' statistics), then off (each map
its own), reverted in between.

    python scripts/blender_demo.py --two-materials --method CCPL_R31 \
        --style core/gallery/paintings/gauguin-arlesiennes.jpg --out docs
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

import bpy

ROOT = Path(__file__).resolve().parent.parent
PBR = Path("/work/shared/data/pbr")


def ensure_addon() -> None:
    if hasattr(bpy.types.Scene, "brushwork"):
        return
    spec = importlib.util.spec_from_file_location("build_extension", ROOT / "scripts" / "build_extension.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    parent = Path(tempfile.mkdtemp(prefix="brushwork-demo-"))
    build.stage(parent / "brushwork")
    sys.path.insert(0, str(parent))
    import brushwork  # noqa: E402  (the staged extension package)
    brushwork.register()


def find(folder: Path, role: str) -> Path:
    hits = sorted(folder.glob(f"*{role}.png"))
    if not hits:
        sys.exit(f"blender_demo: error: {folder}: no *{role}.png")
    return hits[0]


def build_scene(textures: Path) -> None:
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_cube_add(size=2.0)
    obj = bpy.context.active_object
    obj.rotation_euler = (0.0, 0.0, 0.6)
    bevel = obj.modifiers.new("Bevel", "BEVEL")
    bevel.width, bevel.segments = 0.08, 4
    bpy.ops.object.shade_smooth()
    mat = bpy.data.materials.new("Demo")
    mat.use_nodes = True
    obj.data.materials.append(mat)
    nt = mat.node_tree
    bsdf = nt.nodes["Principled BSDF"]

    def image_node(path: Path, data: bool, x: float, y: float):
        node = nt.nodes.new("ShaderNodeTexImage")
        node.image = bpy.data.images.load(str(path))
        node.location = (x, y)
        if data:
            node.image.colorspace_settings.name = "Non-Color"
        return node

    colour = image_node(find(textures, "basecolor"), False, -700, 300)
    nt.links.new(colour.outputs["Color"], bsdf.inputs["Base Color"])
    rough = image_node(find(textures, "roughness"), True, -700, 0)
    nt.links.new(rough.outputs["Color"], bsdf.inputs["Roughness"])
    normal = image_node(find(textures, "normal"), True, -700, -300)
    nmap = nt.nodes.new("ShaderNodeNormalMap")
    nt.links.new(normal.outputs["Color"], nmap.inputs["Color"])
    nt.links.new(nmap.outputs["Normal"], bsdf.inputs["Normal"])

    bpy.ops.object.camera_add(location=(5.2, -5.2, 3.9), rotation=(1.08, 0.0, 0.785))
    scene.camera = bpy.context.active_object
    bpy.ops.object.light_add(type="SUN", rotation=(0.7, 0.3, 0.9))
    bpy.context.active_object.data.energy = 3.5
    world = bpy.data.worlds.new("Demo")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.55, 0.6, 0.7, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.6
    scene.world = world
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 48
    scene.render.resolution_x, scene.render.resolution_y = 640, 480
    scene.render.image_settings.file_format = "PNG"
    for other in scene.objects:
        other.select_set(other == obj)
    bpy.context.view_layer.objects.active = obj  # Stylize acts on the active object's material


def small_maps(folder: Path, into: Path, size: int = 512) -> Path:
    """The set's basecolor/roughness/normal PNGs, downscaled to at most `size` px, in `into`."""
    into.mkdir(parents=True, exist_ok=True)
    for role in ("basecolor", "roughness", "normal"):
        src = find(folder, role)
        img = bpy.data.images.load(str(src))
        if role != "basecolor":
            img.colorspace_settings.name = "Non-Color"
        w, h = img.size
        if max(w, h) > size:
            img.scale(max(1, w * size // max(w, h)), max(1, h * size // max(w, h)))
        img.filepath_raw = str(into / src.name)
        img.file_format = "PNG"
        img.save()
        bpy.data.images.remove(img)
    return into


def two_materials_scene(first: Path, second: Path) -> None:
    """Two bevelled cubes side by side, each with its own PBR material."""
    build_scene(first)
    scene = bpy.context.scene
    cube = bpy.data.objects["Cube"]
    cube.location = (-1.5, 0.0, 0.0)
    other = cube.copy()
    other.data = cube.data.copy()
    other.location = (1.5, 0.0, 0.0)
    other.rotation_euler = (0.0, 0.0, -0.6)
    scene.collection.objects.link(other)
    build_material(other, second, "Second")
    scene.camera.location = (0.0, -9.0, 4.2)
    scene.camera.rotation_euler = (1.135, 0.0, 0.0)
    scene.render.resolution_x, scene.render.resolution_y = 480, 270
    scene.cycles.samples = 16
    for obj in scene.objects:
        obj.select_set(obj in (cube, other))
    bpy.context.view_layer.objects.active = cube


def build_material(obj, textures: Path, name: str) -> None:
    """Replace obj's material with a new one made from the set in `textures`."""
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    obj.data.materials.clear()
    obj.data.materials.append(mat)
    nt = mat.node_tree
    bsdf = nt.nodes["Principled BSDF"]
    for role, x, y in (("basecolor", -700, 300), ("roughness", -700, 0), ("normal", -700, -300)):
        node = nt.nodes.new("ShaderNodeTexImage")
        node.image = bpy.data.images.load(str(find(textures, role)))
        node.location = (x, y)
        if role == "basecolor":
            nt.links.new(node.outputs["Color"], bsdf.inputs["Base Color"])
            continue
        node.image.colorspace_settings.name = "Non-Color"
        if role == "roughness":
            nt.links.new(node.outputs["Color"], bsdf.inputs["Roughness"])
        else:
            nmap = nt.nodes.new("ShaderNodeNormalMap")
            nt.links.new(node.outputs["Color"], nmap.inputs["Color"])
            nt.links.new(nmap.outputs["Normal"], bsdf.inputs["Normal"])


def depth_scene(textures: Path) -> None:
    """The textured cube, repeated along a line that runs away from the camera."""
    build_scene(textures)
    scene = bpy.context.scene
    cube = bpy.data.objects["Cube"]
    for i in range(1, 6):
        dup = cube.copy()
        dup.location = (-2.6 * i, 2.6 * i, 0)
        scene.collection.objects.link(dup)
    scene.camera.location = (4.0, -4.5, 2.2)
    scene.camera.rotation_euler = (1.36, 0.0, 0.62)
    bpy.context.view_layer.use_pass_z = True
    for other in scene.objects:
        other.select_set(other == cube)
    bpy.context.view_layer.objects.active = cube


def render(path: Path) -> None:
    bpy.context.scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    print(f"blender_demo: wrote {path}", flush=True)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="blender_demo", description=__doc__.splitlines()[0])
    p.add_argument("--style", type=Path, default=ROOT / "tests" / "data" / "painting.jpg")
    p.add_argument("--textures", type=Path, default=ROOT / "tests" / "data")
    p.add_argument("--method", default="AUTO")
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    p.add_argument("--depth", action="store_true", help="the depth-aware strokes demo instead")
    p.add_argument("--two-materials", action="store_true",
                   help="the one-look-across-materials demo (wood and tiles) instead")
    p.add_argument("--second", type=Path, default=PBR / "ceramic_tiles",
                   help="--two-materials: the second object's texture set")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ensure_addon()
    if args.depth:
        return depth_demo(args)
    if args.two_materials:
        return two_materials_demo(args)
    build_scene(args.textures.resolve())
    work = Path(tempfile.mkdtemp(prefix="brushwork-demo-scene-"))
    bpy.ops.wm.save_as_mainfile(filepath=str(work / "demo.blend"))  # results land in work/stylized
    render(args.out / "addon-before.png")
    settings = bpy.context.scene.brushwork
    settings.style_image = str(args.style.resolve())
    settings.method = args.method
    if bpy.ops.brushwork.stylize_texture() != {"FINISHED"}:
        return 1
    render(args.out / "addon-after.png")
    return 0


def two_materials_demo(args) -> int:
    work = Path(tempfile.mkdtemp(prefix="brushwork-demo-scene-"))
    first = args.textures if args.textures != ROOT / "tests" / "data" else PBR / "wood_planks"
    first = small_maps(first.resolve(), work / "maps-first")
    second = small_maps(args.second.resolve(), work / "maps-second")
    two_materials_scene(first, second)
    bpy.ops.wm.save_as_mainfile(filepath=str(work / "two.blend"))
    timed(render, args.out / "two-materials-before.png")
    settings = bpy.context.scene.brushwork
    settings.style_image = str(args.style.resolve())
    settings.method = args.method
    settings.scope = "SCENE"
    for one_look, name in ((True, "two-materials-one-look.png"), (False, "two-materials-separate.png")):
        settings.one_look = one_look
        if timed(bpy.ops.brushwork.stylize_texture, label="stylize_texture") != {"FINISHED"}:
            return 1
        timed(render, args.out / name)
        if bpy.ops.brushwork.revert_texture() != {"FINISHED"}:
            return 1
    return 0


def timed(fn, *a, label: str = ""):
    import time
    start = time.perf_counter()
    result = fn(*a)
    print(f"blender_demo: {label or getattr(fn, '__name__', 'step')} took "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    return result


def depth_demo(args) -> int:
    depth_scene(args.textures.resolve())
    work = Path(tempfile.mkdtemp(prefix="brushwork-demo-scene-"))
    bpy.ops.wm.save_as_mainfile(filepath=str(work / "depth.blend"))
    render(args.out / "depth-render.png")
    settings = bpy.context.scene.brushwork
    settings.style_image = str(args.style.resolve())
    settings.method = args.method
    for aware, name in ((False, "depth-flat.png"), (True, "depth-aware.png")):
        settings.depth_aware = aware
        if bpy.ops.brushwork.stylize_render() != {"FINISHED"}:
            return 1
        newest = max((i for i in bpy.data.images if i.name.startswith("Render Result.stylized")),
                     key=lambda i: i.name)  # "….stylized.001" comes after "….stylized"
        shutil.copyfile(bpy.path.abspath(newest.filepath), args.out / name)
        print(f"blender_demo: wrote {args.out / name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]))
