"""What several test modules share (no test module imports another): where the test
data lives, movies made and read with ffmpeg, the worker's line protocol, the add-on's
wood scene. Blender itself is `blender_env.py`, pictures made on the spot `imaging.py`.
"""
import subprocess
from pathlib import Path

import numpy as np

from blender_env import wood_scene

DATA = Path(__file__).resolve().parent / "data"
ROOT = DATA.parent.parent


def ffmpeg() -> str:
    """imageio-ffmpeg's binary, imported only by the tests that make movies: the torch-free
    test run (as the extension runs) has neither it nor torch."""
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def scene(tmp_path) -> str:
    """The add-on tests' wood PBR scene, base colour through a Hue/Saturation node."""
    return wood_scene(tmp_path, through_hue=True)


def encode(path, frames, fps="12", *, sound=True, extra=()):
    """uint8 RGB frames → an H.264 MP4 (with a 440 Hz tone as long as the picture when `sound`)."""
    h, w = frames[0].shape[:2]
    cmd = [ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", fps,
           "-i", "-"]
    if sound:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-shortest", "-c:a", "aac"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv444p" if w % 2 or h % 2 else "yuv420p", *extra, str(path)]
    subprocess.run(cmd, input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames), check=True)
    return path


def photo_frames(n, shift=(2.0, 1.0), zoom=0.01):
    from core.media import colour
    from core.media.image_io import read_image
    from core.training.evaluate import motion_sequence   # torch
    photo = colour.to_working(read_image(str(DATA / "photo.jpg")).color, False)
    seq, maps = motion_sequence(photo, frames=n, shift=shift, zoom=zoom, margin=16)
    return [(f * 255 + 0.5).astype(np.uint8) for f in seq], maps


def streams(path):
    """(video line, audio line or None, duration) from ffmpeg's header."""
    text = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    lines = text.splitlines()
    v = next(ln for ln in lines if "Video:" in ln)
    a = next((ln for ln in lines if "Audio:" in ln), None)
    return v, a, text


def audio_seconds(path):
    """Duration of the sound alone, decoded."""
    out = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1",
                          "-ar", "48000", "-"], capture_output=True, check=True).stdout
    return len(out) / 2 / 48000


def check_protocol(lines: list[dict]) -> dict:
    """Progress lines (fractions non-decreasing in [0, 1], a stage each), then exactly one
    result, last; returns the result."""
    assert lines, "no output"
    results = [m for m in lines if m.get("type") == "result"]
    assert len(results) == 1 and lines[-1] is results[0], lines
    progress = lines[:-1]
    assert all(m["type"] == "progress" for m in progress), progress
    fractions = [m["fraction"] for m in progress]
    assert fractions == sorted(fractions), fractions
    assert all(0 <= f <= 1 for f in fractions), fractions
    assert all(isinstance(m["stage"], str) and m["stage"] for m in progress), progress
    return results[0]


def run_cli(capfd, *args):
    """core.app.cli.main in-process → (exit code, stdout, stderr); argparse's exits included."""
    from core.app import cli
    try:
        rc = cli.main([str(a) for a in args])
    except SystemExit as e:
        rc = e.code
    out, err = capfd.readouterr()
    return rc, out, err
