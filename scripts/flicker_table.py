"""Flicker table: each trained method per frame alone vs. + motion vectors, on a rendered
animation (Cycles: a turning, gliding textured cube under a panning camera) and on a
photo drifting and zooming (motion known by construction). Writes docs/flicker.md and
a side-by-side GIF (frames alone | + motion vectors).

    python scripts/flicker_table.py [--frames 48] [--size 192x144] [--out docs]
    python scripts/flicker_table.py --methods ccpl-r31 --update   # re-measure one method

Runs the add-on's Stylize Animation for the renders (so the Vector/Z passes come the way
artists get them), then `python -m core frames` for every variant.
"""
from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render_animation(work: Path, frames: int, size: tuple[int, int], style: Path) -> tuple[Path, Path]:
    import bpy
    demo = _script("blender_demo")
    demo.ensure_addon()
    demo.build_scene(ROOT / "tests" / "data")
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.cycles.samples = 16
    scene.frame_start, scene.frame_end = 1, frames
    cube, cam = bpy.data.objects["Cube"], scene.camera
    for f, turn, glide, pan in ((1, 0.6, -0.4, 0.0), (frames, 1.3, 0.4, 0.8)):
        cube.rotation_euler.z, cube.location.x, cam.location.x = turn, glide, 5.2 + pan
        for obj, path in ((cube, "rotation_euler"), (cube, "location"), (cam, "location")):
            obj.keyframe_insert(path, frame=f)
    bpy.ops.wm.save_as_mainfile(filepath=str(work / "flicker.blend"))
    settings = scene.brushwork
    settings.style_image, settings.method = str(style), "WCT_R31"
    assert bpy.ops.brushwork.stylize_animation() == {"FINISHED"}
    root = work / "stylized" / "Scene_animation"
    return root / "render", root / "passes"


def photo_sequence(work: Path, frames: int) -> tuple[Path, Path]:
    from core.media import colour
    from core.scene import motion
    from core.media.image_io import Picture, read_image, write_image, write_render_passes
    from core.training.evaluate import motion_sequence
    photo = colour.to_working(read_image(str(ROOT / "tests" / "data" / "photo.jpg")).color, False)
    seq, maps = motion_sequence(photo, frames=frames, shift=(1.0, 0.5), zoom=0.004, margin=16)
    fdir, vdir = work / "photo" / "frames", work / "photo" / "vectors"
    fdir.mkdir(parents=True), vdir.mkdir(parents=True)
    for t, f in enumerate(seq):
        write_image(str(fdir / f"p_{t + 1:04d}.png"), Picture(f.astype(np.float32), np.dtype(np.uint8), False, ""))
        write_render_passes(str(vdir / f"p_{t + 1:04d}.exr"), {"Vector": motion.affine_vectors(maps, t, f.shape[:2])})
    return fdir, vdir


def stylize(frames: Path, vectors: Path, style: Path, out: Path, method: str, coherence: float) -> tuple[float, float]:
    cmd = [sys.executable, "-m", "core", "frames", str(frames), str(style), "-o", str(out), "--vectors",
           str(vectors), "--method", method, "--coherence", str(coherence), "--quiet", "--overwrite"]
    text = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    found = re.search(r"0-255\): ([\d.]+) \(frames alone: ([\d.]+)\)", text)
    return float(found[1]), float(found[2])


def input_flicker(frames: Path, vectors: Path) -> float:
    """The warp error of the unstylized frames themselves: the floor (shading, noise, resampling)."""
    from core.scene import motion
    from core.jobs.frames import frame_files, load_frame
    lookup = {str(int(p.stem.rsplit("_", 1)[1])): p for p in frame_files(vectors)}
    errors, prev = [], None
    for path in frame_files(frames):
        cur = load_frame(path, lookup)
        if prev is not None:
            back = motion.backward_flow(cur.vector)
            valid = motion.valid_mask(back, motion.forward_flow(prev.vector), cur.depth, prev.depth)
            errors.append(motion.warp_error(prev.rgb, cur.rgb, back, valid))
        prev = cur
    return float(np.mean(errors))


def side_by_side_gif(left: Path, right: Path, path: Path, limit: int = 24) -> None:
    from PIL import Image
    pics = []
    for a, b in list(zip(sorted(left.glob("*.png")), sorted(right.glob("*.png"))))[:limit]:
        with Image.open(a) as ia, Image.open(b) as ib:
            w, h = ia.size
            sheet = Image.new("RGB", (2 * w + 4, h), (255, 255, 255))
            sheet.paste(ia.convert("RGB"), (0, 0))
            sheet.paste(ib.convert("RGB"), (w + 4, 0))
            pics.append(sheet)
    pics[0].save(path, save_all=True, append_images=pics[1:], duration=80, loop=0, optimize=True)


ROW = re.compile(r"^\| (?P<seq>[^|]+) \| (?P<method>[^|]+) \| (?P<alone>[0-9.]+) \| (?P<steady>[0-9.]*) ?\|")


def table(rows: list, frames: int, coherence: float) -> str:
    """docs/flicker.md: the note that says how it was measured, then one row per sequence
    and method (the unstylized input first: the floor any method is measured against)."""
    lines = ["| sequence | method | per frame alone | + motion vectors | cut |", "|---|---|---|---|---|"]
    lines += [f"| {s} | {m} | {a:.2f} | {v:.2f} | {1 - v / a:.0%} |" if v is not None else f"| {s} | {m} | {a:.2f} | | |"
              for s, m, a, v in rows]
    note = (f"Mean warp error between consecutive stylized frames (0–255, true motion, non-occluded pixels), "
            f"{frames} frames, coherence {coherence}; `python scripts/flicker_table.py`.\n\n")
    return note + "\n".join(lines) + "\n"


def merged(old_text: str, rows: list, frames: int, coherence: float, order: list[str]) -> list:
    """`--update`: the re-measured rows replace their method's old ones; every other method
    keeps its numbers. Refuses a table measured over other frames or coherence, whose
    numbers would not compare."""
    if f"{frames} frames, coherence {coherence};" not in old_text:
        raise SystemExit(f"flicker_table.py --update: the existing table was not measured over {frames} "
                         f"frames at coherence {coherence}; re-measure every method instead")
    kept = {}
    for line in old_text.splitlines():
        m = ROW.match(line)
        if m:
            steady = float(m["steady"]) if m["steady"] else None
            kept[(m["seq"], m["method"])] = (m["seq"], m["method"], float(m["alone"]), steady)
    kept.update({(s, m): (s, m, a, v) for s, m, a, v in rows})
    sequences = list(dict.fromkeys(r[0] for r in kept.values()))
    rank = {m: i for i, m in enumerate(order)}
    return sorted(kept.values(), key=lambda r: (sequences.index(r[0]), r[3] is not None,
                                                rank.get(r[1], len(rank)), r[1]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", default="192x144")
    p.add_argument("--coherence", type=float, default=0.75)
    p.add_argument("--methods", help="comma-separated (default: every trained method, "
                   "relu3_1 then relu4_1)")
    p.add_argument("--style", type=Path, default=ROOT / "tests" / "data" / "painting.jpg")
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    p.add_argument("--update", action="store_true",
                   help="keep the other methods' rows of the existing flicker.md (the GIF is left alone)")
    args = p.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    from core.engine.methods import METHODS
    from core.engine.stylizer import default_method
    trained = sorted((n for n, m in METHODS.items() if m.trained), key=lambda n: (METHODS[n].layer, n))
    methods = args.methods.split(",") if args.methods else trained
    default = default_method()
    gif_method = None if args.update else default if default in methods else methods[0]  # what artists get
    work = Path(tempfile.mkdtemp(prefix="brushwork-flicker-"))
    sources = {"rendered animation": render_animation(work, args.frames, size, args.style.resolve()),
               "photo, shift + zoom": photo_sequence(work, args.frames)}
    rows = []
    for label, (frames, vectors) in sources.items():
        floor = input_flicker(frames, vectors)
        rows.append((label, "input frames (not stylized)", floor, None))
        for method in methods:
            alone_dir, steady_dir = work / f"{label[:5]}-{method}-alone", work / f"{label[:5]}-{method}-steady"
            alone, _ = stylize(frames, vectors, args.style, alone_dir, method, 0.0)
            steady, _ = stylize(frames, vectors, args.style, steady_dir, method, args.coherence)
            rows.append((label, method, alone, steady))
            print(f"{label:22} {method:12} alone {alone:6.2f}  + vectors {steady:6.2f}  ({1 - steady / alone:.0%} less)")
            if label == "rendered animation" and method == gif_method:
                side_by_side_gif(alone_dir, steady_dir, args.out / "flicker-side-by-side.gif")
    path = args.out / "flicker.md"
    if args.update:
        rows = merged(path.read_text(), rows, args.frames, args.coherence, trained)
    path.write_text(table(rows, args.frames, args.coherence))
    print(f"wrote {path}; work files in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
