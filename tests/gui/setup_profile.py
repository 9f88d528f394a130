"""Run by `blender -b` once per test run: a user profile with Brushwork installed, and the scene.

    blender -b --python setup_profile.py -- ZIP SCENE_DIR BARE_PROFILE

BARE_PROFILE gets the same preferences without Brushwork. The profile
(BLENDER_USER_RESOURCES) gets the extension installed as Install from Disk
does, no splash (a fresh profile's Quick Setup would cover the window), no save prompt
(quitting is then one key, as the prompt's Don't Save), and is copied
for every GUI test. SCENE_DIR gets scene.blend: the default cube with the wood PBR
material (tests/data's 256 px maps, copied beside it), camera and light, Cycles at 4
samples and 128×96 px so that renders take a second or two.
"""
import shutil
import sys
from pathlib import Path

import addon_utils
import bpy

zip_path, scene_dir, bare = (Path(a) for a in sys.argv[sys.argv.index("--") + 1:][:3])
DATA = Path(__file__).resolve().parent.parent / "data"

prefs = bpy.context.preferences
prefs.view.show_splash = False
prefs.view.use_save_prompt = False      # Ctrl-Q quits at once, as "Don't Save" in the prompt would
prefs.use_preferences_save = False      # a test's own changes stay in its copy, unsaved
bpy.ops.wm.save_userpref()
shutil.copytree(Path(bpy.utils.resource_path("USER")) / "config", bare / "config")   # for Install from Disk

bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=False)
if addon_utils.enable("bl_ext.user_default.brushwork", default_set=True) is None:
    sys.exit("could not enable Brushwork")
bpy.ops.wm.save_userpref()

scene_dir.mkdir(parents=True, exist_ok=True)
for name in ("wood_basecolor.png", "wood_normal.png", "wood_roughness.png"):
    shutil.copy(DATA / name, scene_dir / name)
bpy.ops.wm.read_homefile(use_factory_startup=True)
cube = bpy.data.objects["Cube"]
mat = bpy.data.materials.new("Wood")
mat.use_nodes = True
cube.data.materials.clear()
cube.data.materials.append(mat)
nt = mat.node_tree
bsdf = nt.nodes["Principled BSDF"]


def image_node(name, data, x, y):
    node = nt.nodes.new("ShaderNodeTexImage")
    node.image = bpy.data.images.load(str(scene_dir / name))
    node.location = (x, y)
    if data:
        node.image.colorspace_settings.name = "Non-Color"
    return node


colour = image_node("wood_basecolor.png", False, -500, 300)
nt.links.new(colour.outputs["Color"], bsdf.inputs["Base Color"])
rough = image_node("wood_roughness.png", True, -500, 0)
nt.links.new(rough.outputs["Color"], bsdf.inputs["Roughness"])
normal = image_node("wood_normal.png", True, -500, -300)
nmap = nt.nodes.new("ShaderNodeNormalMap")
nt.links.new(normal.outputs["Color"], nmap.inputs["Color"])
nt.links.new(nmap.outputs["Normal"], bsdf.inputs["Normal"])
scene = bpy.context.scene
scene.render.engine = "CYCLES"
scene.cycles.samples = 4
scene.cycles.use_denoising = False
scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 128, 96, 100
scene.eevee.taa_samples = 1             # Material Preview: one sample, no endless refinement
scene.brushwork.method = "WCT_R31"      # the quickest method: jobs of a second or two
bpy.ops.wm.save_as_mainfile(filepath=str(scene_dir / "scene.blend"))
print("setup_profile: done")
