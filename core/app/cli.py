"""Brushwork's command line: `brushwork stylize|frames|panorama|video|join|learn|worker|check …`
(also `python -m core …`).

Exit 0 on success; 2 with one line on stderr (no traceback) for anything the user can
fix: bad input, missing weights, a path that would overwrite an original; 130 when
interrupted, having removed everything it wrote.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from ..errors import BrushworkError, Cancelled, SettingError
from ..jobs.schema import DEFAULTS


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one `brushwork: error:` line (exit 2) like any other mistake."""

    def error(self, message):
        self.exit(2, f"brushwork: error: {message} (see {self.prog} --help)\n")


def _weights(text: str) -> list[float]:
    """--style-weights 0.3,0.7; named so argparse's complaint names the option, not a lambda."""
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated numbers, e.g. 0.3,0.7") from None


def prog() -> str:
    """The command as the user typed it: `brushwork` (the installed script) or `python -m core`."""
    return "brushwork" if Path(sys.argv[0]).stem == "brushwork" else "python -m core"


def _parser() -> argparse.ArgumentParser:
    from ..nets.architecture import WRAPS

    p = _Parser(prog=prog(), description="Brushwork's command line: paint images, renders, movies and "
                "360° panoramas after a painting.")
    sub = p.add_subparsers(dest="command", required=True)
    p.commands = sub.choices  # command → its parser, to name flags in errors
    s = _job_command(sub, "stylize", "paint an image after one or more style images; with --style, "
                     "several images with one look", "content", "image to stylize (PNG, JPEG, TIFF, EXR)",
                     "new image to write (never an input); with several contents, a folder", styles="*")
    s.add_argument("--style", action="append", metavar="STYLE",
                   help="the style (repeat to mix): then every positional image is a content, painted "
                        "with one transformation from their pooled statistics into the -o folder, same names")
    s.add_argument("--separate", action="store_true",
                   help="with several contents: each image its own statistics, not one look for all")
    _engine_options(s, overwrite="replace OUTPUT if it exists")
    s.add_argument("--wrap", default="none", choices=[*WRAPS, "auto"],
                   help="x: 360° panorama seam; both: tileable texture stays tileable; "
                        "auto: both/x/none, whichever edges the image continues across")
    s.add_argument("--hdr", default="clip", choices=["clip", "tonemap"],
                   help="float input brighter than 1: clip it, or tone-map it (and back, for EXR output)")
    s.add_argument("--force-color", action="store_true",
                   help="stylize even if the content looks like a normal/roughness/height map")
    s.add_argument("--emission", action="store_true",
                   help="the content is an emission map: paint it as light (black stays black, "
                        "the glow keeps its brightness in the painting's colours)")
    s.add_argument("--depth", help="depth map (EXR: a render's Depth pass): fine strokes in focus from the "
                   "method's relu3_1 member, coarse paint away from it from its relu4_1 sibling "
                   "(for WCT: wct-r31 and wct)")
    s.add_argument("--focus", type=float, help="with --depth: focus distance (default: the median depth)")
    s.add_argument("--falloff", type=float, help="with --depth: distance over which the paint takes over "
                   "(default: a quarter of the depth range)")
    s.add_argument("--depth-side", default=DEFAULTS["depth_side"], choices=["both", "far", "near"],
                   help="with --depth: which side of the focus plane dissolves")
    s.add_argument("--far-scale", type=float, default=DEFAULTS["far_scale"],
                   help="with --depth: extra stroke size away from focus (default 1: relu4_1 is coarser already)")
    f = _job_command(sub, "frames", "stylize a folder of frames with one transformation, steadied by the "
                     "renderer's motion vectors", "frames",
                     "folder of frames (PNG, JPEG, TIFF, EXR; multilayer EXR with Vector/Depth)",
                     "folder for the stylized PNG frames")
    f.add_argument("--vectors", help="folder of multilayer EXRs holding Vector (and Depth) passes, "
                   "matched to frames by number")
    f.add_argument("--video", help="also write the stylized frames as this H.264 .mp4")
    f.add_argument("--fps", type=float, default=DEFAULTS["fps"], help="frame rate of --video")
    f.add_argument("--coherence", type=float, default=DEFAULTS["coherence"],
                   help="0..<1: how much of the previous frame, warped along the motion, is kept")
    _engine_options(f, overwrite="redo frames already stylized (default: resume)")
    q = _job_command(sub, "panorama", "stylize an equirectangular 360° panorama: the meridian joins; "
                     "JPEG output carries photo-sphere (GPano) metadata",
                     "content", "equirect image (2:1), or a folder of equirect frames",
                     "new image (.jpg gets GPano XMP) or .mp4 with spherical (360°) video metadata")
    q.add_argument("--hdr", default="tonemap", choices=["clip", "tonemap"],
                   help="float (HDRI) input brighter than 1: tone-map it (default; and back, for EXR output) or clip it")
    q.add_argument("--no-poles", dest="poles", action="store_false",
                   help="paint the polar caps flat with the rest (faster; strokes pinch into rays at the poles)")
    _engine_options(q, overwrite="replace OUTPUT if it exists")
    v = _job_command(sub, "video", "stylize a movie file (MP4, MOV, …) into a new H.264 MP4, sound kept, "
                     "steadied by optical flow", "movie", "the footage (any video ffmpeg reads)",
                     "the new .mp4 (same rate, size, pixel aspect, sound)")
    v.add_argument("--coherence", default="flow", choices=["flow", "none"],
                   help="flow: blend in the previous frame along estimated motion (default); none: frames alone")
    v.add_argument("--start", type=float, default=DEFAULTS["start"], help="first second to stylize")
    v.add_argument("--end", type=float, help="last second (default: the end)")
    _engine_options(v, overwrite="replace OUTPUT if it exists")
    j = sub.add_parser("join", help="join a folder of frames into an H.264 MP4 (no stylizing)")
    j.add_argument("frames", help="folder of frames (natural order)")
    j.add_argument("-o", "--output", required=True, help="the .mp4 to write")
    j.add_argument("--fps", type=float, default=DEFAULTS["fps"])
    j.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    j.add_argument("--quiet", action="store_true")
    n = sub.add_parser("learn", help="tune the default method (ccpl-r31) to one painting, a few minutes "
                       "on a CPU; every later job with that painting and method uses the result")
    n.add_argument("style", metavar="STYLE", help="the painting: an image file or a gallery id")
    n.add_argument("--content", nargs="+", metavar="FILE|DIR",
                   help="images (or folders of them) to learn on: your own maps or frames "
                        "(default: a procedural set made on the spot)")
    budget = n.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="training steps (default 150: about 4 minutes on 2 cores)")
    budget.add_argument("--minutes", type=float, help="learn for about this long instead")
    n.add_argument("--quiet", action="store_true", help="no progress lines")
    n.add_argument("--crop", type=int, help=argparse.SUPPRESS)    # tests: smaller crops
    n.add_argument("--batch", type=int, help=argparse.SUPPRESS)   # tests: fewer crops a step
    sub.add_parser("gallery", help="list the bundled paintings: an id stands wherever a style image may")
    sub.add_parser("worker", help="run one JSON job from stdin, JSON progress lines on stdout")
    sub.add_parser("check", help="print one JSON line: Python, backend (torch or onnxruntime), device, trained methods")
    return p


def _job_command(sub, name: str, text: str, source: str, source_help: str, output_help: str, styles="+"):
    """A subcommand that paints `source` after style images into `-o OUTPUT`."""
    c = sub.add_parser(name, help=text)
    c.add_argument(source, help=source_help)
    c.add_argument("styles", nargs=styles, metavar="STYLE",
                   help="style image(s) or gallery ids (see `gallery`); several are mixed")
    c.add_argument("-o", "--output", required=True, help=output_help)
    return c


def _engine_options(p: argparse.ArgumentParser, *, overwrite: str) -> None:
    """The options every command that runs the networks shares (stylize, frames, panorama, video)."""
    from ..backends import BACKENDS, PRECISIONS
    from ..engine.stylizer import DEVICES, default_method
    from ..engine.methods import METHODS

    trained = [m for m in METHODS if METHODS[m].trained]
    untrained = [m for m in METHODS if m not in trained]
    p.add_argument("--method", default=default_method(), choices=list(METHODS),
                   metavar="{" + ",".join(trained) + "}",
                   help="default: the strongest method with trained weights (%(default)s)"
                   + (f"; not trained yet, for tests with --allow-untrained: {', '.join(untrained)}"
                      if untrained else ""))
    p.add_argument("--strength", type=float, default=DEFAULTS["strength"], help="0 = content, 1 = full style")
    p.add_argument("--style-weights", type=_weights,
                   help="comma-separated mix weights, one per style")
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the content's colours; take strokes and light from the style")
    p.add_argument("--style-scale", type=float, default=DEFAULTS["style_scale"],
                   help="stroke size: 2 paints strokes twice as large (processes at half size)")
    p.add_argument("--tile", type=int, default=None,
                   help=f"tile size in pixels (default: the engine's, {DEFAULTS['tile']}); 0 = whole image")
    p.add_argument("--device", default=DEFAULTS["device"], choices=list(DEVICES))
    p.add_argument("--backend", default=DEFAULTS["backend"], choices=list(BACKENDS),
                   help="auto: torch where installed, else onnxruntime")
    p.add_argument("--precision", default=DEFAULTS["precision"], choices=list(PRECISIONS),
                   help="torch's arithmetic: auto = fp16 on CUDA (within 0.5/255 of fp32); on a CPU bf16 "
                   "where it runs faster (AMX, or AVX-512 BF16 that measures faster: about 1.7-2×; a mean "
                   "0.24/255 off fp32, far less than moving the photo by one pixel changes), else fp32 "
                   "(WCT: fp32 everywhere)")
    # Tests and plumbing checks only: deterministic random weights where trained ones are
    # missing. Hidden, so a user never sees a way to paint with untrained networks.
    p.add_argument("--allow-untrained", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--overwrite", action="store_true", help=overwrite)
    p.add_argument("--no-learned", dest="learned", action="store_false",
                   help="ignore what `learn` learned for this painting: the shipped model")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _check() -> int:
    """What this Python can run (the add-on's "Check" button shows it): which backend and
    device a job would use; exit 2 when neither torch nor onnxruntime is importable."""
    import json
    import platform

    from .. import backends
    from ..engine.stylizer import default_method
    from ..engine.methods import METHODS

    info = {"python": platform.python_version(), "executable": sys.executable, "torch": None,
            "cuda": False, "gpu": None, "onnxruntime": None, "backend": None, "device": None,
            "methods": {m: METHODS[m].trained for m in METHODS},
            "default_method": default_method()}
    try:
        info["backend"] = backends.resolve("auto")
    except BrushworkError:
        info["error"] = f"neither PyTorch nor onnxruntime is installed for {sys.executable}"
    if info["backend"] == "torch":
        try:
            import torch
        except ImportError as e:
            info["error"] = f"PyTorch is installed but does not import for {sys.executable} ({e})"
        else:
            info["torch"] = torch.__version__
            info["cuda"] = torch.cuda.is_available()
            info["gpu"] = torch.cuda.get_device_name(0) if info["cuda"] else None
            info["device"] = "cuda" if info["cuda"] else "cpu"
    elif info["backend"] == "onnx":
        try:
            from ..backends.onnx.backend import ort, providers
            info["onnxruntime"] = ort.__version__
            info["device"] = providers("auto")[0].removesuffix("ExecutionProvider").lower()
        except (ImportError, BrushworkError, AttributeError) as e:
            info["error"] = f"onnxruntime does not import for {sys.executable} ({e})"
    print(json.dumps(info))
    return 2 if "error" in info else 0


def console() -> int:
    """The installed `brushwork` command: as `python -m core` (core/__main__.py), freed
    memory kept for reuse before numpy or torch allocate anything."""
    from ..mem.allocator import keep_freed_memory
    keep_freed_memory()
    return main()


def _gallery() -> int:
    """The bundled paintings, one a line: id, artist, title, year (all CC0)."""
    from .. import gallery
    items = gallery.paintings()
    width = max(len(p.id) for p in items)
    for p in items:
        print(f"{p.id:<{width}}  {p.artist}, {p.title} ({p.year})")
    print(f"{len(items)} paintings, public domain (CC0, Art Institute of Chicago); "
          f"e.g. {prog()} stylize photo.jpg {items[0].id} -o out.png")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _quiet_opencv()
    if args.command == "worker":
        from ..app.worker import main as worker_main
        return worker_main()
    if args.command == "check":
        return _check()
    if args.command == "gallery":
        return _gallery()
    # SIGTERM (`kill`) and SIGINT clean up like Ctrl-C, even when started from a shell that
    # ignores SIGINT for background jobs; restored after, for callers of main() in-process.
    in_main = threading.current_thread() is threading.main_thread()
    stops = (signal.SIGTERM, signal.SIGINT)
    saved = {sig: signal.signal(sig, signal.default_int_handler) for sig in stops} if in_main else {}
    try:
        from ..app.progress import Bar
        _check_paths(args)
        run = {"frames": _frames, "video": _video, "join": _join, "panorama": _panorama,
               "learn": _learn}.get(args.command, _stylize)
        summary = run(args, None if args.quiet else Bar())
    except BrushworkError as e:
        print(f"brushwork: error: {_in_flags(e, parser.commands[args.command])}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Cancelled):
        done = "frames finished so far are kept" if args.command == "frames" else "nothing was written"
        print(f"brushwork: interrupted; {done}", file=sys.stderr)
        return 130
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    print(summary)
    return 0


def _check_paths(args) -> None:
    """Every path the user gave, checked as text (empty, NUL, names too long) before any
    file is opened or network loaded: the job fields' own rule (core/jobs/spec.py)."""
    from ..jobs.schema import PATH_FIELDS, check_path_text
    for name in (*PATH_FIELDS, "style", "folder"):
        value = getattr(args, name, None)
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                check_path_text("styles" if name == "style" else name, text)


def _in_flags(error: BrushworkError, command: argparse.ArgumentParser) -> str:
    """The engine's message with the setting it names called by this command's flag."""
    flag = next((a.option_strings[-1] for a in command._actions
                 if a.dest == error.setting and a.option_strings), None)
    if flag is None:
        return str(error)
    return error.labelled(flag) if isinstance(error, SettingError) else f"{error} ({flag})"


def _engine(args) -> dict:
    """The shared engine options (core/jobs/spec.py's EngineOptions) from the flags."""
    from ..engine.stylizer import Settings
    settings = Settings(strength=args.strength, style_scale=args.style_scale,
                        tile=Settings.tile if args.tile is None else args.tile,
                        wrap=getattr(args, "wrap", "none"), style_weights=args.style_weights)
    return dict(styles=args.styles, method=args.method, settings=settings, preserve_color=args.preserve_color,
                device=args.device, backend=args.backend, precision=args.precision,
                allow_untrained=args.allow_untrained, overwrite=args.overwrite, learned=args.learned)


def _stylize(args, bar) -> str:
    from ..jobs import image
    from ..media.image_io import SUPPORTED
    if args.style and (args.styles or Path(args.output).suffix.lower() not in SUPPORTED):
        return _stylize_set(args, bar)
    if args.style:  # one content, `--style S -o out.png`: the same as `stylize content S -o out.png`
        args.styles = args.style
    job = image.Job(content=args.content, output=args.output, **_engine(args), force_color=args.force_color,
                    emission=args.emission, depth=args.depth, focus=args.focus, falloff=args.falloff, depth_side=args.depth_side,
                    far_scale=args.far_scale, hdr=args.hdr)
    result = image.run(job, bar)
    return f"{result.output} ({result.width}×{result.height}, {result.seconds:.1f} s)"


def _stylize_set(args, bar) -> str:
    """`stylize A.png B.png … --style S -o DIR`: one look for all (core/jobs/image_set.py)."""
    from ..jobs import image_set
    from ..jobs.spec import output_folder
    from ..media.image_io import SUPPORTED
    contents = [args.content, *args.styles]
    if args.depth:
        raise BrushworkError("--depth paints one image with two methods; give one content with it")
    out = Path(args.output)
    if out.suffix.lower() in SUPPORTED:
        raise BrushworkError(f"{args.output}: with several contents -o names a folder, not an image")
    if not out.parent.is_dir():
        raise BrushworkError(f"{args.output}: folder {out.parent} does not exist")
    engine = dict(_engine(args), styles=args.style)
    job = image_set.ImageSetJob(contents=contents, outputs=[str(out / Path(c).name) for c in contents],
                                pooled=not args.separate, force_color=args.force_color, hdr=args.hdr,
                                emission=args.emission, **engine)
    with output_folder(out, "the stylized images (-o, with several contents)"):
        r = image_set.run(job, bar)
    look = "one look (pooled statistics)" if r.pooled else "each its own statistics"
    return f"{out}: {len(r.outputs)} images, {look}, {r.seconds:.1f} s"


def _panorama(args, bar) -> str:
    """A still (→ image with GPano XMP, or a short 360° MP4) or a folder of frames (→ 360° MP4)."""
    import tempfile
    from pathlib import Path

    from ..jobs import image
    from ..jobs.spec import check_new_file
    from ..media import spherical, video
    from ..media.image_io import image_size
    from ..scene.panorama import check_equirect

    out = Path(args.output)
    if Path(args.content).is_dir():
        from ..jobs import frames
        if out.suffix.lower() != ".mp4" or out.name == out.suffix:
            raise BrushworkError(f"{args.output}: a folder of frames becomes a video; name an .mp4")
        for f in frames.frame_files(args.content):
            w, h = image_size(str(f))
            check_equirect(h, w, str(f))
        job = frames.FramesJob(frames=args.content, output=str(out.with_suffix("")) + "_frames", **_engine(args),
                               panorama=True, poles=args.poles, video=str(out))
        r = frames.run(job, bar)
        return f"{out} ({r.frames} equirect frames, 360° video metadata; frames in {r.output})"
    if out.suffix.lower() == ".mp4":
        check_new_file(args.output, [args.content, *args.styles], args.overwrite)
        with tempfile.TemporaryDirectory(prefix="brushwork-") as tmp:
            still = Path(tmp) / "pano.png"
            result = image.run(_panorama_job(args, str(still)), bar)
            # the 360° metadata goes in before the movie is in place: a failure leaves nothing there
            video.write_mp4([still] * STILL_SECONDS, str(out), fps=1, overwrite=args.overwrite,
                            finish=spherical.inject)
        return f"{out} ({result.width}×{result.height} equirect, {STILL_SECONDS} s 360° video)"
    result = image.run(_panorama_job(args, args.output), bar)
    return f"{result.output} ({result.width}×{result.height} equirect, {result.seconds:.1f} s)"


STILL_SECONDS = 5  # a still as video: long enough for YouTube to accept and show it


def _panorama_job(args, output: str):
    from ..jobs import image
    return image.Job(content=args.content, output=output, **_engine(args), force_color=True,
                     panorama=True, poles=args.poles, hdr=args.hdr)


def _video(args, bar) -> str:
    from ..jobs import movie
    job = movie.VideoJob(movie=args.movie, output=args.output, **_engine(args), coherence=args.coherence,
                         start=args.start, end=args.end)
    r = movie.run(job, bar)
    text = f"{r.output} ({r.frames} frames, {r.width}×{r.height} at {r.fps:g} fps, {r.seconds:.1f} s)"
    if r.flicker is not None:
        text += f"; flicker (mean warp error, 0-255): {r.flicker:.2f} (frames alone: {r.flicker_alone:.2f})"
    return text


def _learn(args, bar) -> str:
    """`learn STYLE`: ccpl-r31 tuned to one painting (core/training/learn.py); Ctrl-C keeps
    the best so far. Progress as lines (a few minutes of them), not the bar."""
    if not __package__ or not _has_training():
        raise BrushworkError("learning a painting needs the engine's training code (a checkout or "
                             "pip install of Brushwork) and PyTorch")
    from ..training import learn
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    r = learn.learn(args.style, args.content, steps=args.steps, minutes=args.minutes, log=log,
                    size=args.crop, batch=args.batch)
    how = (f"stopped at step {r.steps} of {r.planned}; kept the best so far (step {r.best_step})" if r.stopped
           else f"{r.steps} steps")
    return (f"{r.output} ({how}, {r.seconds / 60:.1f} min; style {r.losses['start'].get('style', 0):.3g} → "
            f"{r.losses['best'].get('style', 0):.3g}); jobs with this painting and ccpl-r31 now use it "
            "(--no-learned: the shipped model)")


def _has_training() -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec("..training", __package__) is not None
    except (ImportError, ValueError):
        return False


def _join(args, bar) -> str:
    from ..media import video
    from ..jobs.frames import frame_files
    from ..jobs.spec import check_new_file
    video.check_fps(args.fps)
    if not args.output.lower().endswith(".mp4"):
        raise BrushworkError(f"{args.output}: the video must be an .mp4 file")
    files = frame_files(args.frames)
    check_new_file(args.output, [str(f) for f in files], args.overwrite)
    video.write_mp4(files, args.output, args.fps, overwrite=args.overwrite)
    return f"{args.output} ({len(files)} frames at {args.fps:g} fps)"


def _frames(args, bar) -> str:
    from ..jobs import frames
    job = frames.FramesJob(frames=args.frames, output=args.output, vectors=args.vectors, **_engine(args),
                           coherence=args.coherence, video=args.video, fps=args.fps)
    r = frames.run(job, bar)
    text = f"{r.output}: {r.frames} frames ({r.done} stylized now, {r.frames - r.done} resumed), {r.seconds:.1f} s"
    if r.flicker is not None:
        alone = f" (frames alone: {r.flicker_alone:.2f})" if r.flicker_alone is not None else ""
        text += f"; flicker (mean warp error, 0-255): {r.flicker:.2f}{alone}"
    return text + (f"; video {r.video}" if r.video else "")


def _quiet_opencv() -> None:
    """OpenCV writes its own warnings ("libpng error: …") to stderr for a corrupt file,
    which already becomes our one error line; keep stderr to that line."""
    try:
        import cv2
    except ImportError:  # optional (core/media/image_io.py)
        return
    cv2.setLogLevel(0)  # LOG_LEVEL_SILENT
