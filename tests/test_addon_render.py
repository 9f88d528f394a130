"""Renders and animations in Blender (the `bpy` module, background mode, Cycles CPU, tiny frames)."""
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
from PIL import Image

from blender_env import run_in_blender
from core.scene import motion
from core.media.image_io import read_image, read_render_passes

DATA = Path(__file__).resolve().parent / "data"

# A cube gliding diagonally under an orthographic camera: 10 px per unit, so 2 px right and
# 1 px up per frame, linear keys. The camera pans 1 px per frame to the left for animations.
SCENE = '''
import bpy, sys
from pathlib import Path
TMP = Path(TMP)
bpy.ops.wm.read_homefile(use_empty=True)
sc = bpy.context.scene
bpy.context.preferences.edit.keyframe_new_interpolation_type = "LINEAR"
bpy.ops.mesh.primitive_cube_add(size=1.6, location=(-1, -0.5, 0))
cube = bpy.context.active_object
cube.keyframe_insert("location", frame=1)
cube.location = (1, 0.5, 0)
cube.keyframe_insert("location", frame=11)
mat = bpy.data.materials.new("Red")
mat.use_nodes = True
mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.8, 0.1, 0.05, 1)
cube.data.materials.append(mat)
bpy.ops.mesh.primitive_plane_add(size=30, location=(0, 0, -1))
floor = bpy.context.active_object
fm = bpy.data.materials.new("Checker")
fm.use_nodes = True
checker = fm.node_tree.nodes.new("ShaderNodeTexChecker")
checker.inputs["Scale"].default_value = 12
fm.node_tree.links.new(checker.outputs["Color"], fm.node_tree.nodes["Principled BSDF"].inputs["Base Color"])
floor.data.materials.append(fm)
bpy.ops.object.camera_add(location=(0, 0, 10), rotation=(0, 0, 0))
cam = bpy.context.active_object
cam.data.type = "ORTHO"
cam.data.ortho_scale = 8
sc.camera = cam
bpy.ops.object.light_add(type="SUN", location=(0, 0, 5))
sc.render.engine = "CYCLES"
sc.cycles.device = "CPU"
sc.cycles.samples = 4
sc.cycles.use_denoising = False
sc.render.resolution_x, sc.render.resolution_y = 80, 60
sc.render.use_motion_blur = True        # the animation operator must turn it off (and back on)
settings = sc.brushwork
settings.style_image = str(Path(DATA) / "painting.jpg")
settings.method = "WCT_R31"
def pan_camera():
    cam.location.x = 0
    cam.keyframe_insert("location", frame=1)
    cam.location.x = -0.1 * 9
    cam.keyframe_insert("location", frame=10)
'''


def scene(tmp_path) -> str:
    return f"TMP = {str(tmp_path)!r}\nDATA = {str(DATA)!r}\n" + SCENE


def test_vector_pass_convention_with_a_moving_cube(tmp_path):
    """Cycles' Vector pass: R,G = previous − current, B,A = current − next, pixels, y up;
    our reader, flows and warp turn it into the right motion."""
    proc = run_in_blender(scene(tmp_path) + '''
renders = sys.modules[ADDON_MODULE + ".addon.renders"]
px = {}
for f in (4, 5, 6):                      # the cube's true position, in pixels (10 px per unit, y up)
    sc.frame_set(f)
    px[f] = [10 * cube.matrix_world.translation.x, 10 * cube.matrix_world.translation.y]
with renders.motion_passes(sc):
    for f in (4, 5):
        renders.render_frame(sc, f, TMP / f"f{f}.png", TMP / f"f{f}.exr")
report({"px": px})
''', tmp_path)
    px = {int(k): v for k, v in proc.result["px"].items()}
    expected = [px[4][0] - px[5][0], px[4][1] - px[5][1], px[5][0] - px[6][0], px[5][1] - px[6][1]]
    assert expected[0] < -1 and expected[1] < -0.5   # it moves right and up
    prev, cur = (read_render_passes(str(tmp_path / f"f{f}.exr")) for f in (4, 5))
    vec = cur["Vector"]
    # The cube's top (nearer than the floor), away from its edges where the pixel filter mixes.
    on_cube = cv2.erode((cur["Depth"] < 9.5).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert on_cube.sum() > 50
    for channel in range(4):
        assert np.allclose(vec[..., channel][on_cube], expected[channel], atol=0.02), channel
    floor = cv2.erode((cur["Depth"] > 10).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert np.abs(vec[floor]).max() < 1e-3    # the floor does not move
    # Warping the previous frame along the backward flow lands the cube where it is now.
    back = motion.backward_flow(vec)
    valid = motion.valid_mask(back, motion.forward_flow(prev["Vector"]), cur["Depth"], prev["Depth"])
    warped = motion.warp(prev["Combined"][..., :3], back)[0]
    inner = valid & on_cube
    assert inner.sum() > 100
    assert np.abs(warped - cur["Combined"][..., :3])[inner].mean() < 0.02
    # The display PNG went through the view transform: not the linear values clipped.
    png = read_image(str(tmp_path / "f5.png"))
    assert png.dtype == np.uint16 and png.color.shape == (60, 80, 3)
    assert png.color.mean() > cur["Combined"][..., :3].mean() + 0.05


def test_stylize_render_makes_a_new_image(tmp_path):
    proc = run_in_blender(scene(tmp_path) + '''
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "shot.blend"))
try:
    bpy.ops.brushwork.stylize_render()
    before = "no error"
except RuntimeError as e:
    before = str(e)
bpy.ops.render.render()
result = bpy.ops.brushwork.stylize_render()
image = bpy.data.images["Render Result.stylized"]
settings.depth_aware = True            # needs the Z pass, which this render does not have
try:
    bpy.ops.brushwork.stylize_render()
    no_z = "no error"
except RuntimeError as e:
    no_z = str(e)
bpy.context.view_layer.use_pass_z = True
bpy.ops.render.render()
depth_result = bpy.ops.brushwork.stylize_render()
report({"before": before, "result": list(result), "size": list(image.size),
        "file": bpy.path.abspath(image.filepath), "no_z": no_z, "depth": list(depth_result),
        "depth_image": bpy.data.images["Render Result.stylized.001"].size[:]})
''', tmp_path)
    r = proc.result
    assert "render (F12) first" in r["before"]
    assert "no Depth (Z) pass" in r["no_z"]
    assert r["depth"] == ["FINISHED"] and r["depth_image"] == [80, 60]
    assert r["result"] == ["FINISHED"] and r["size"] == [80, 60]
    assert Path(r["file"]) == tmp_path / "stylized" / "Render_Result.stylized.png"


CANCEL_WHEN_WORKING = '''
import threading, time
driving = sys.modules[ADDON_MODULE + ".addon.driving"]
def cancel_when_working():             # as the panel's Cancel button does, from another thread
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and bpy.context.window_manager.brushwork_job.progress <= 0:
        time.sleep(0.05)
    driving.request_cancel()
def attempt(op, **kw):
    try:
        return list(op(**kw))
    except RuntimeError as e:          # an operator's error, as a script sees it
        return str(e).strip()
'''


def test_a_cancelled_or_failed_stylize_render_leaves_everything_as_it_was(tmp_path):
    proc = run_in_blender(scene(tmp_path) + CANCEL_WHEN_WORKING + '''
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "shot.blend"))
sc.render.resolution_x, sc.render.resolution_y = 128, 96
bpy.ops.render.render()
ims = sc.render.image_settings
def state():
    return [sorted(i.name for i in bpy.data.images), ims.file_format, ims.color_depth, ims.color_mode,
            sc.frame_current, (TMP / "stylized").exists(), driving.is_running()]
before = state()
settings.tile, settings.style_scale = 128, 0.125   # 1024x768 in small tiles: a cancel lands mid-job
threading.Thread(target=cancel_when_working, daemon=True).start()
out = {"before": before, "cancel": attempt(bpy.ops.brushwork.stylize_render), "after_cancel": state()}
bad = TMP / "bad.jpg"
bad.write_bytes(b"no picture here " * 64)          # the worker refuses it after the folder is made
settings.style_image, settings.style_scale = str(bad), 1.0
out["error"], out["after_error"] = attempt(bpy.ops.brushwork.stylize_render), state()
settings.depth_aware = True                        # depth-aware too: its passes are the job's own
out["depth_error"], out["after_depth"] = attempt(bpy.ops.brushwork.stylize_render), state()
report(out)
''', tmp_path)
    r = proc.result
    assert r["before"][-2:] == [False, False]
    assert r["cancel"] == ["CANCELLED"] and "nothing was changed" in proc.stdout + proc.stderr
    assert "bad.jpg" in r["error"] and "bad.jpg" in r["depth_error"]
    assert r["after_cancel"] == r["after_error"] == r["after_depth"] == r["before"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("blender_")) == [
        "bad.jpg", "shot.blend"]


def test_a_cancelled_animation_puts_the_scene_back(tmp_path):
    """The frames finished so far stay for a re-run to resume; the scene is as it was."""
    proc = run_in_blender(scene(tmp_path) + CANCEL_WHEN_WORKING + '''
sc.frame_start, sc.frame_end, sc.frame_current = 1, 6, 3
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "shot.blend"))
layer = bpy.context.view_layer
def state():
    return [sc.render.use_motion_blur, layer.use_pass_vector, layer.use_pass_z, sc.frame_current,
            sorted(i.name for i in bpy.data.images if "stylized" in i.name), driving.is_running()]
before = state()
threading.Thread(target=cancel_when_working, daemon=True).start()
report({"before": before, "result": attempt(bpy.ops.brushwork.stylize_animation), "after": state()})
''', tmp_path)
    r = proc.result
    assert r["result"] == ["CANCELLED"] and r["after"] == r["before"] == [True, False, False, 3, [], False]
    assert "the frames finished so far are kept" in proc.stdout + proc.stderr
    assert not list((tmp_path / "stylized").rglob("*.mp4"))


def test_stylize_animation_renders_steadies_resumes_and_restores_the_scene(tmp_path):
    code = scene(tmp_path) + '''
pan_camera()
sc.frame_start, sc.frame_end, sc.frame_current = 1, 6, 3
sc.render.fps = 12
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "shot.blend"))
settings.auto_stylize = True        # must leave Brushwork's own renders alone
result = bpy.ops.brushwork.stylize_animation()
layer = bpy.context.view_layer
report({"result": list(result), "blur": sc.render.use_motion_blur, "vector": layer.use_pass_vector,
        "frame": sc.frame_current, "stills": [i.name for i in bpy.data.images if "stylized" in i.name]})
'''
    proc = run_in_blender(code, tmp_path)
    assert proc.result == {"result": ["FINISHED"], "blur": True, "vector": False, "frame": 3, "stills": []}
    root = tmp_path / "stylized" / "Scene_animation"
    frames = sorted((root / "frames").iterdir())
    assert [p.name for p in frames] == [f"frame_{f:05d}.png" for f in range(1, 7)]
    assert len(list((root / "passes").glob("*.exr"))) == 6
    n, _ = imageio_ffmpeg.count_frames_and_secs(str(root / "Scene.stylized.mp4"))
    assert n == 6
    flicker, alone = (float(x) for x in proc.stdout.split("; flicker ")[1].split(")")[0]
                      .replace("(frames alone", "").split())
    assert flicker < 0.7 * alone, proc.stdout[-500:]
    stamps = {p: p.stat().st_mtime_ns for p in [*frames, *(root / "render").iterdir(), root / "Scene.stylized.mp4"]}
    run_in_blender(code, tmp_path)  # a re-run finds every frame done: renders and redoes nothing
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    # ... and writes its MP4 beside the first one, which it never replaces.
    assert sorted(p.name for p in root.glob("*.mp4")) == ["Scene.stylized.001.mp4", "Scene.stylized.mp4"]


def test_render_farm_chunks_and_join(tmp_path):
    """Two chunks of scripts/render_stylized.py (as farm tasks run them), then the join."""
    import subprocess
    import sys
    run_in_blender(scene(tmp_path) + '''
pan_camera()
sc.frame_start, sc.frame_end = 1, 6
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "shot.blend"))
''', tmp_path)
    root = Path(__file__).resolve().parent.parent
    script = str(root / "scripts" / "render_stylized.py")
    out = tmp_path / "farm"

    def task(*args):
        done = subprocess.run([sys.executable, script, *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout

    common = ["--blend", str(tmp_path / "shot.blend"), "--style", str(DATA / "painting.jpg"), "--out", str(out),
              "--method", "wct-r31"]
    task(*common, "--frames", "4-6")           # chunks may run in any order, on any machine
    log = task(*common, "--frames", "1-3")
    assert "flicker" in log
    assert sorted(p.name for p in out.glob("*.png")) == [f"frame_{f:05d}.png" for f in range(1, 7)]
    assert "already in" in task(*common, "--frames", "1-3")   # a re-run of a finished chunk does nothing
    task("--join", str(out), "--fps", "12", "--video", str(tmp_path / "shot.mp4"))
    n, secs = imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "shot.mp4"))
    assert n == 6 and abs(secs - 0.5) < 0.05


def test_auto_stylize_renders_stills_and_written_frames(tmp_path):
    proc = run_in_blender(scene(tmp_path) + '''
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "shot.blend"))
settings.auto_stylize = True
bpy.ops.render.render()                                   # F12: a still, nothing written
still = "Render Result.stylized" in bpy.data.images
sc.frame_start, sc.frame_end = 1, 2
sc.render.filepath = str(TMP / "anim" / "shot_")
sc.render.image_settings.file_format = "PNG"
bpy.ops.render.render(animation=True)                     # Ctrl+F12: frames written
settings.auto_stylize = False
bpy.ops.render.render()
report({"still": still, "images": sorted(i.name for i in bpy.data.images if "stylized" in i.name)})
''', tmp_path)
    assert proc.result == {"still": True, "images": ["Render Result.stylized"]}  # off: no second one
    names = sorted(p.name for p in (tmp_path / "anim").iterdir())
    assert names == ["shot_0001.png", "shot_0001.stylized.png", "shot_0002.png", "shot_0002.stylized.png"]
    a, b = (read_image(str(tmp_path / "anim" / n)).color for n in ("shot_0001.png", "shot_0001.stylized.png"))
    assert a.shape == b.shape and np.abs(a - b).mean() > 0.03


def test_stylize_panorama_renders_an_equirect_and_leaves_the_camera_alone(tmp_path):
    proc = run_in_blender(scene(tmp_path) + '''
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "shot.blend"))
before = (cam.data.name, cam.data.type, sc.render.resolution_x, sc.render.resolution_y, len(bpy.data.cameras))
result = bpy.ops.brushwork.stylize_panorama()
image = bpy.data.images["Scene panorama.stylized"]
after = (cam.data.name, cam.data.type, sc.render.resolution_x, sc.render.resolution_y, len(bpy.data.cameras))
flat = bpy.data.images.load(str(Path(DATA) / "photo.jpg"))
try:
    bpy.ops.brushwork.stylize_panorama(image_name=flat.name)
    refused = "no error"
except RuntimeError as e:
    refused = str(e)
report({"result": list(result), "same_camera": before == after, "size": list(image.size),
        "file": bpy.path.abspath(image.filepath), "refused": refused})
''', tmp_path)
    r = proc.result
    assert r["result"] == ["FINISHED"] and r["same_camera"] and r["size"] == [80, 40]
    from core.scene.panorama import seam_ratio
    with Image.open(r["file"]) as im:
        assert 'GPano:ProjectionType="equirectangular"' in im.info["xmp"].decode()
    assert seam_ratio(read_image(r["file"]).color) <= 1.5
    assert "not an equirectangular panorama" in r["refused"]


def test_stylize_panorama_animation_is_a_360_video_of_every_frame(tmp_path):
    proc = run_in_blender(scene(tmp_path) + '''
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "shot.blend"))
sc.frame_start, sc.frame_end, sc.frame_current = 1, 3, 2
before = (cam.data.name, cam.data.type, sc.render.resolution_x, sc.render.resolution_y, sc.frame_current)
result = bpy.ops.brushwork.stylize_panorama(animation=True)
after = (cam.data.name, cam.data.type, sc.render.resolution_x, sc.render.resolution_y, sc.frame_current)
report({"result": list(result), "same_scene": before == after,
        "root": str(TMP / "stylized" / "Scene_panorama")})
''', tmp_path)
    r = proc.result
    assert r["result"] == ["FINISHED"] and r["same_scene"]
    from core.scene.panorama import seam_ratio
    from core.media.spherical import read_spherical
    root = Path(r["root"])
    frames = sorted((root / "frames").glob("*.png"))
    assert [f.name for f in frames] == [f"frame_{i:05d}.png" for i in (1, 2, 3)]
    for f in frames:
        rgb = read_image(str(f)).color
        assert rgb.shape[:2] == (40, 80) and seam_ratio(rgb) <= 1.5
    video = root / "Scene.stylized.mp4"
    assert imageio_ffmpeg.count_frames_and_secs(str(video))[0] == 3
    assert read_spherical(str(video))["v2"]["projection"] == "equirectangular"
