"""Render a frame range with motion vectors and stylize it: one chunk of a render-farm job.

    blender -b scene.blend -P scripts/render_stylized.py -- --style S --frames 1-48 --out D
    python scripts/render_stylized.py --blend scene.blend --style S --frames 1-48 --out D
    blender -b -P scripts/render_stylized.py -- --join D --fps 24 --video D/shot.mp4
    blender -b scene.blend -P scripts/render_stylized.py -- --learn --style S [--learn-minutes 4]

`--learn` tunes the default method to the painting once, before the chunks are sent: it
lands in `stylized/learned/` beside the .blend, where every chunk's job finds it.

Each chunk is independent, so a farm (Flamenco: scripts/flamenco/) can spread a range
over machines. Coherence is carried across a chunk's start by re-rendering `--overlap`
frames before it: they are stylized first and only steady the chunk's first frame; their
outputs are not kept. Renders and passes stay in `D/.brushwork/` so a re-run resumes;
finished frames land in D as `frame_00001.png` … by an atomic rename.
Known limit: each chunk averages its own frames' content statistics, so chunks of one
shot can differ very slightly in global colour (one transformation per chunk).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import bpy

ROOT = Path(__file__).resolve().parent.parent


def _addon(name: str):
    """A module of the running Brushwork add-on (installed extension or staged copy)."""
    for key, module in sys.modules.items():
        if key.endswith(f"addon.{name}") and hasattr(module, "__file__"):
            return module
    raise RuntimeError(f"Brushwork add-on module '{name}' is not loaded")


def ensure_addon() -> None:
    spec = importlib.util.spec_from_file_location("blender_demo", ROOT / "scripts" / "blender_demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    demo.ensure_addon()


def frame_range(text: str) -> tuple[int, int]:
    try:
        a, b = (int(x) for x in text.split("-", 1)) if "-" in text.lstrip("-") else (int(text), int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give frames as START-END, e.g. 1-48") from None
    if b < a:
        raise argparse.ArgumentTypeError(f"{text!r}: the end comes before the start")
    return a, b


def run_worker(spec: dict) -> dict:
    """One worker job in the add-on's chosen Python, progress printed; returns the result."""
    client, prefs = _addon("worker_client"), _addon("preferences")
    worker = client.Worker(spec, prefs.python_setup())
    try:
        while True:
            msg = worker.wait(timeout=1.0)
            if msg is None:
                continue
            if msg.get("type") == "progress":
                print(f"render_stylized: {msg.get('stage', '')} {msg.get('fraction', 0):.0%}", flush=True)
            elif msg.get("type") == "result":
                if msg.get("status") != "ok":
                    sys.exit(f"render_stylized: error: {msg.get('message', msg.get('status'))}")
                return msg
    except KeyboardInterrupt:
        worker.cancel()
        worker.kill_after()
        sys.exit(130)


def chunk(args) -> int:
    out = Path(args.out).resolve()
    start, end = args.frames
    if all((out / f"frame_{f:05d}.png").exists() for f in range(start, end + 1)):
        print(f"render_stylized: frames {start}-{end} are already in {out}", flush=True)
        return 0
    if args.blend:
        bpy.ops.wm.open_mainfile(filepath=str(Path(args.blend).resolve()))
    ensure_addon()
    renders = _addon("renders")
    scene = bpy.context.scene
    first = max(scene.frame_start, start - args.overlap) if args.overlap else start
    work = out / ".brushwork"
    render_dir, passes_dir, styl_dir = work / "render", work / "passes", work / f"chunk_{start}-{end}"
    for d in (render_dir, passes_dir, styl_dir):
        d.mkdir(parents=True, exist_ok=True)
    wanted = range(first, end + 1)
    with renders.motion_passes(scene):
        for f in wanted:
            png, exr = render_dir / f"frame_{f:05d}.png", passes_dir / f"frame_{f:05d}.exr"
            if not (png.exists() and exr.exists()):
                print(f"render_stylized: rendering frame {f} ({f - first + 1}/{len(wanted)})", flush=True)
                renders.render_frame(scene, f, png, exr)
    # This chunk's frames only (the render folder may hold other chunks' frames too).
    frames_dir = styl_dir / "in"
    frames_dir.mkdir(exist_ok=True)
    for f in wanted:
        link = frames_dir / f"frame_{f:05d}.png"
        if not link.exists():
            shutil.copyfile(render_dir / f"frame_{f:05d}.png", link)
    spec = {"frames": str(frames_dir), "vectors": str(passes_dir), "output": str(styl_dir / "out"),
            "styles": [str(Path(args.style).resolve())], "coherence": args.coherence}
    if args.method:
        spec["method"] = args.method
    result = run_worker(spec)
    for f in range(start, end + 1):
        os.replace(styl_dir / "out" / f"frame_{f:05d}.png", out / f"frame_{f:05d}.png")
    shutil.rmtree(styl_dir, ignore_errors=True)
    flicker = f"; flicker {result['flicker']:.2f} (alone {result['flicker_alone']:.2f})" \
        if result.get("flicker") is not None and result.get("flicker_alone") is not None else ""
    print(f"render_stylized: frames {start}-{end} in {out}{flicker}", flush=True)
    return 0


def learn(args) -> int:
    """Learn the painting once for the whole shot (the add-on's Learn This Painting)."""
    if args.blend:
        bpy.ops.wm.open_mainfile(filepath=str(Path(args.blend).resolve()))
    ensure_addon()
    spec = {"learn": str(Path(args.style).resolve()),
            **({"steps": args.learn_steps} if args.learn_steps else {"minutes": args.learn_minutes})}
    if args.content:
        spec["contents"] = [str(Path(c).resolve()) for c in args.content]
    result = run_worker(spec)
    print(f"render_stylized: learned {Path(args.style).name}: {result.get('steps')} steps → {result.get('output')}",
          flush=True)
    return 0


def join(args) -> int:
    ensure_addon()
    prefs = _addon("preferences")
    setup = prefs.python_setup()
    import subprocess
    done = subprocess.run(setup.command("join", str(args.join), "-o", str(args.video), "--fps", str(args.fps)),
                          env=setup.env(), cwd=_addon("worker_client").PACKAGE_ROOT)
    return done.returncode


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="render_stylized", description=__doc__.splitlines()[0])
    p.add_argument("--blend", help="with the bpy module: the .blend to open")
    p.add_argument("--style", help="style image")
    p.add_argument("--frames", type=frame_range, help="START-END (inclusive)")
    p.add_argument("--out", help="folder for the stylized frames")
    p.add_argument("--method", help="engine method (default: the best trained one)")
    p.add_argument("--coherence", type=float, default=0.75)
    p.add_argument("--overlap", type=int, default=1, help="frames re-rendered before START to carry coherence")
    p.add_argument("--join", help="instead: join this folder's frames into --video")
    p.add_argument("--video", help="with --join: the .mp4 to write")
    p.add_argument("--fps", type=float, default=24.0)
    p.add_argument("--learn", action="store_true", help="instead: learn --style for this .blend's jobs")
    p.add_argument("--learn-minutes", type=float, default=4.0, help="with --learn: how long")
    p.add_argument("--learn-steps", type=int, help="with --learn: this many steps instead")
    p.add_argument("--content", nargs="*", help="with --learn: maps or frames to learn from (default: a procedural set)")
    args = p.parse_args(argv)
    if args.learn:
        if not args.style:
            p.error("--learn needs --style")
        return learn(args)
    if args.join:
        if not args.video:
            p.error("--join needs --video OUT.mp4")
        return join(args)
    if not (args.style and args.frames and args.out):
        p.error("--style, --frames and --out are required (or --join)")
    return chunk(args)


if __name__ == "__main__":
    code = main(sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:])
    if not bpy.app.binary_path:
        # The bpy module (4.2 measured) can crash while tearing down after open_mainfile,
        # turning a finished chunk into exit -11 on a farm: leave without the teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
