"""Stylize Movie Clip in Blender (the `bpy` module, background mode): a Sequencer movie strip
or a movie file → a new MP4, added as a strip above the original."""
import hashlib

import imageio_ffmpeg

from blender_env import run_in_blender
from support import audio_seconds, encode, photo_frames, streams

DATA_STYLE = "painting.jpg"


def test_stylize_movie_clip_adds_a_strip_above_and_leaves_the_original(tmp_path):
    from support import DATA
    frames, _ = photo_frames(24)
    src = encode(tmp_path / "footage.mp4", [f[:96, :128] for f in frames])   # 2 s at 12 fps, with a tone
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    proc = run_in_blender(f'''
import bpy
from pathlib import Path
TMP = Path({str(tmp_path)!r})
bpy.ops.wm.read_homefile(use_empty=True)
sc = bpy.context.scene
sc.render.fps = 12
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "edit.blend"))
ed = sc.sequence_editor_create()
strip = ed.strips.new_movie(name="footage", filepath=str(TMP / "footage.mp4"), channel=2, frame_start=5)
strip.frame_offset_start, strip.frame_offset_end = 6, 6          # shows source frames 6..17: 1 s
ed.active_strip = strip
settings = sc.brushwork
settings.style_image = {str(DATA / DATA_STYLE)!r}
settings.method = "WCT_R31"
settings.movie_file = str(TMP / "not-this.mp4")                   # the Sequencer button takes the strip
result = bpy.ops.brushwork.stylize_movie_clip(use_strip=True)
new = [s for s in ed.strips if s.name != "footage"]
old = ed.strips["footage"]
report({{"result": list(result),
        "new": [(s.name, s.type, s.channel, s.frame_final_start, s.frame_final_duration, bpy.path.abspath(s.filepath))
                for s in new],
        "old": (old.channel, old.frame_final_start, old.frame_final_duration, old.frame_offset_start,
                bpy.path.abspath(old.filepath))}})
''', tmp_path)
    r = proc.result
    assert r["result"] == ["FINISHED"], proc.stdout[-2000:]
    out = tmp_path / "stylized" / "footage.stylized.mp4"
    assert r["old"] == [2, 11, 12, 6, str(src)]
    assert r["new"] == [["footage.stylized", "MOVIE", 3, 11, 12, str(out)]]
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 12
    v, a, _ = streams(out)
    assert "128x96" in v and " 12 fps" in v and a is not None
    assert abs(audio_seconds(out) - 1.0) <= 1 / 12
    assert "Stylized 12 frames of footage.mp4" in proc.stdout


def test_a_missing_movie_is_one_clear_error(tmp_path):
    from support import DATA
    proc = run_in_blender(f'''
import bpy
bpy.ops.wm.read_homefile(use_empty=True)
settings = bpy.context.scene.brushwork
settings.style_image = {str(DATA / DATA_STYLE)!r}
try:
    bpy.ops.brushwork.stylize_movie_clip()
    first = "no error"
except RuntimeError as e:
    first = str(e)
settings.movie_file = "/nowhere/clip.mp4"
try:
    bpy.ops.brushwork.stylize_movie_clip()
    second = "no error"
except RuntimeError as e:
    second = str(e)
report([first, second])
''', tmp_path)
    first, second = proc.result
    assert "Choose a movie file, or make a movie strip active" in first
    assert "Movie not found: /nowhere/clip.mp4" in second


def test_a_failed_movie_job_leaves_no_folder_and_no_strip(tmp_path):
    frames, _ = photo_frames(6)
    encode(tmp_path / "footage.mp4", [f[:96, :128] for f in frames])
    (tmp_path / "bad.jpg").write_bytes(b"no picture here " * 64)   # refused by the worker, after the folder is made
    proc = run_in_blender(f'''
import bpy
from pathlib import Path
TMP = Path({str(tmp_path)!r})
bpy.ops.wm.read_homefile(use_empty=True)
sc = bpy.context.scene
bpy.ops.wm.save_as_mainfile(filepath=str(TMP / "edit.blend"))
ed = sc.sequence_editor_create()
ed.active_strip = ed.strips.new_movie(name="footage", filepath=str(TMP / "footage.mp4"), channel=2, frame_start=1)
sc.brushwork.style_image = str(TMP / "bad.jpg")
try:
    bpy.ops.brushwork.stylize_movie_clip()
    error = "no error"
except RuntimeError as e:
    error = str(e)
report({{"error": error, "strips": [s.name for s in ed.strips]}})
''', tmp_path)
    assert "bad.jpg" in proc.result["error"] and proc.result["strips"] == ["footage"]
    assert not (tmp_path / "stylized").exists()
