"""Flicker table for movie files: each trained method per frame alone vs. + optical-flow
coherence (`python -m core video --coherence flow`), on two clips whose true motion is known:

- "handheld": a self-made stand-in for filmed footage (no licensed real footage is at hand):
  a virtual handheld camera drifting, zooming, shaking and rolling over a photograph, with a
  disc cut from a second photo crossing the frame faster than the background (moving edges,
  occlusion and disocclusion), sensor noise, an exposure wobble, H.264 compression and a
  room-tone sound track. `--save-clip tests/data/handheld.mp4` keeps the clip.
- "shift + zoom": a photo drifting and zooming (core.training.evaluate.motion_sequence),
  near-lossless H.264.

Flow is estimated by DIS on the decoded footage; the *measurement* uses the true motion
(EVAL.md's warp error), so the estimator is not judged by itself. Also measured: "ghost",
the mean |output − frame alone| on the pixels the moving disc uncovered, where a wrong
occlusion mask would drag the disc along; and the same for a blend with no mask, to show
what ghosting would measure.

    python scripts/video_flicker.py [--frames 48] [--methods wct-r31,linear-r31,ccpl-r31] [--out docs]

`--out` is a folder. `--update` keeps the other methods' rows of its video-flicker.md (as
flicker_table.py --update does), refusing a table measured over another number of frames.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "content"
W, H, FPS = 320, 180, 24
RADIUS = 34


def _encode(path: Path, frames: list[np.ndarray], fps: int, crf: int, sound: bool) -> None:
    import imageio_ffmpeg
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{frames[0].shape[1]}x{frames[0].shape[0]}", "-r", str(fps), "-i", "-"]
    if sound:
        cmd += ["-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.02:seed=7", "-shortest",
                "-c:a", "aac", "-b:a", "48k"]
    cmd += ["-c:v", "libx264", "-crf", str(crf), "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]
    data = b"".join((np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8).tobytes() for f in frames)
    subprocess.run(cmd, input=data, check=True)


def _read(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255


def handheld(n: int, path: Path):
    """The clip, and per frame t ≥ 1 the true (back flow, valid, disoccluded) masks."""
    from core.scene import motion
    photo, bug = _read(SHARED / "adain_newyork.jpg"), _read(SHARED / "debian_LadyBird.jpg")
    rng = np.random.default_rng(11)
    phases = rng.uniform(0, 2 * np.pi, 6)
    maps, centres, frames = [], [], []
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    for t in range(n):
        s = t / max(n - 1, 1)
        z = 1 + 0.12 * s                                                   # slow push-in
        roll = np.radians(0.6 * np.sin(0.21 * t + phases[0]))              # hand roll
        shake = 1.2 * np.array([np.sin(0.53 * t + phases[1]) + 0.5 * np.sin(1.31 * t + phases[2]),
                                np.sin(0.47 * t + phases[3]) + 0.5 * np.sin(1.17 * t + phases[4])])
        cx, cy = 200 + 110 * s + shake[0], 150 + 20 * s + shake[1]          # view centre on the photo
        c, si = np.cos(roll) / z, np.sin(roll) / z
        m = np.array([[c, -si, cx - c * W / 2 + si * H / 2], [si, c, cy - si * W / 2 - c * H / 2]])
        maps.append(m)
        bg = cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REFLECT)
        centre = np.array([30 + 5.6 * t * 48 / n, 125 - 40 * s])            # the disc: x, y in the frame
        centres.append(centre)
        shift = np.array([[1, 0, 358 - centre[0]], [0, 1, 160 - centre[1]]])
        fg = cv2.warpAffine(bug, shift, (W, H), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REFLECT)
        alpha = np.clip(RADIUS + 0.5 - np.hypot(xs - centre[0], ys - centre[1]), 0, 1)[..., None]
        img = alpha * fg + (1 - alpha) * bg
        img = img * (1 + 0.015 * np.sin(0.7 * t + phases[5])) + rng.normal(0, 2 / 255, img.shape)
        frames.append(np.clip(img, 0, 1).astype(np.float32))
    _encode(path, frames, FPS, 20, True)
    truth = [None]
    for t in range(1, n):
        back = motion.backward_flow(motion.affine_vectors(maps, t, (H, W)))
        d_now = np.hypot(xs - centres[t][0], ys - centres[t][1])
        fg_flow = centres[t - 1] - centres[t]
        in_fg = d_now < RADIUS
        back[in_fg] = (fg_flow[1], fg_flow[0])
        qy, qx = ys + back[..., 0], xs + back[..., 1]
        d_prev = np.hypot(qx - centres[t - 1][0], qy - centres[t - 1][1])
        inside = (qx >= 4) & (qx <= W - 5) & (qy >= 4) & (qy <= H - 5)
        solid_now = (d_now < RADIUS - 4) | (d_now > RADIUS + 4)             # Lanczos reads ±4 px
        valid = inside & solid_now & np.where(in_fg, d_prev < RADIUS - 4, d_prev > RADIUS + 4)
        uncovered = (d_now > RADIUS + 1) & (d_prev < RADIUS - 1)            # background the disc revealed
        truth.append((back.astype(np.float32), valid, uncovered))
    return truth


def shift_zoom(n: int, path: Path):
    from core.scene import motion
    from core.training.evaluate import motion_sequence
    photo = cv2.resize(_read(SHARED / "adain_newyork.jpg"), (352, 208), interpolation=cv2.INTER_AREA)
    seq, maps = motion_sequence(photo, frames=n, shift=(1.0, 0.5), zoom=0.004, margin=16)
    _encode(path, seq, FPS, 10, False)
    truth = [None]
    for t in range(1, n):
        back = motion.backward_flow(motion.affine_vectors(maps, t, seq[0].shape[:2]))
        prev_fwd = motion.forward_flow(motion.affine_vectors(maps, t - 1, seq[0].shape[:2]))
        truth.append((back, motion.valid_mask(back, prev_fwd), None))
    return truth


def measure(movie: Path, truth, style: Path, method: str, coherence: str, work: Path):
    """Run the video job; return frames (content, alone, out), seconds per frame."""
    from core.jobs import movie as clip
    kept = []
    out = work / f"{movie.stem}-{method}-{coherence}.mp4"
    job = clip.VideoJob(movie=str(movie), styles=[str(style)], output=str(out), method=method,
                        coherence=coherence, overwrite=True)
    t0 = time.perf_counter()
    r = clip.run(job, on_frame=lambda i, c, a, o: kept.append((c, a, o)))
    return kept, (time.perf_counter() - t0) / r.frames


def warp_errors(frames: list[np.ndarray], truth) -> float:
    from core.scene import motion
    return float(np.mean([motion.warp_error(frames[t - 1], frames[t], truth[t][0], truth[t][1])
                          for t in range(1, len(frames))]))


def own_statistics(content: list[np.ndarray], style: Path, method: str) -> list[np.ndarray]:
    """Each frame as the still tool would paint it: its own content statistics."""
    from core.engine.stylizer import Settings, Stylizer
    from core.jobs.spec import load_style
    s = Stylizer(method, "auto")
    side = s.style(load_style(str(style)), str(style))
    return [np.clip(s.run(c, [side], Settings()), 0, 1) for c in content]


def per_frame_seconds(content: list[np.ndarray], style: Path, method: str, n: int = 16) -> tuple[float, float]:
    """Median seconds per frame to stylize, and to estimate the flow and blend: measured
    frame by frame, interleaved, so that other load on the machine hits both alike."""
    from core.scene import motion
    from core.engine.stylizer import Settings, Stylizer
    from core.scene.flow import Flow
    from core.jobs.spec import load_style
    from core.engine.methods import average_content
    s = Stylizer(method, "auto")
    side = s.style(load_style(str(style)), str(style))
    shared = average_content([s.content(c, Settings()) for c in content[::12]])
    flow, ts, tf = Flow(), [], []
    for t in range(1, min(n, len(content) - 1) + 1):
        t0 = time.perf_counter()
        alone = np.clip(s.run(content[t], [side], Settings(), content=shared), 0, 1)
        t1 = time.perf_counter()
        back, valid = flow.steady_mask(content[t - 1], content[t])
        motion.carry(alone, alone, back, valid, 0.75)
        ts.append(t1 - t0), tf.append(time.perf_counter() - t1)
    return float(np.median(ts)), float(np.median(tf))


def ghost(kept, truth, no_mask: bool = False) -> float:
    """Mean |output − frame alone| (0–255) on the pixels the disc uncovered."""
    from core.scene import motion
    from core.scene.flow import Flow
    flow, vals = Flow(), []
    for t in range(1, len(kept)):
        mask = truth[t][2]
        if mask is None or not mask.any():
            continue
        out = kept[t][2]
        if no_mask:   # what the same blend would do with every pixel taken as seen before
            back, _ = flow.between(kept[t - 1][0], kept[t][0])
            out = motion.carry(kept[t][1], kept[t - 1][2], back, np.ones(mask.shape, bool), 0.75)
        vals.append(np.abs(out - kept[t][1])[mask].mean() * 255)
    return float(np.mean(vals)) if vals else float("nan")


def save_gif(kept, path: Path, limit: int = 16) -> None:
    from PIL import Image
    pics = []
    for c, a, o in kept[:limit]:
        sheet = np.concatenate([a, np.ones((a.shape[0], 4, 3), np.float32), o], axis=1)
        pics.append(Image.fromarray((sheet * 255 + 0.5).astype(np.uint8)))
    pics[0].save(path, save_all=True, append_images=pics[1:], duration=1000 // FPS * 2, loop=0, optimize=True)


def save_pngs(kept, folder: Path, name: str, frames=(10, 20, 30)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t in frames:
        if t < len(kept):
            c, a, o = kept[t]
            sheet = np.concatenate([c, a, o], axis=1)
            big = cv2.resize(sheet, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
            cv2.imwrite(str(folder / f"{name}-{t:02d}.png"), cv2.cvtColor((big * 255 + 0.5).astype(np.uint8),
                                                                         cv2.COLOR_RGB2BGR))


def kept_rows(text: str, fresh: list[str], frames: int) -> list[str]:
    """`--update`: the table's rows with `fresh` in place of the rows they re-measure (same
    clip and method); every other method keeps its row. Refuses a table measured over
    another number of frames, whose numbers would not compare."""
    if f"), {frames} frames of " not in text:
        raise SystemExit(f"video_flicker.py --update: the existing table was not measured over {frames} "
                         "frames; re-measure every method instead")
    key = lambda row: tuple(c.strip() for c in row.split("|")[1:3])  # noqa: E731
    new = {key(r): r for r in fresh}
    old = [r for r in text.splitlines() if r.startswith("| ") and not r.startswith("| clip |")]
    rows = [new.pop(key(r), r) for r in old]
    return rows + [r for r in fresh if key(r) in new]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--methods", default="wct-r31,linear-r31,ccpl-r31")
    p.add_argument("--style", type=Path, default=ROOT / "tests" / "data" / "painting.jpg")
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    p.add_argument("--save-clip", type=Path, help="keep the handheld clip here")
    p.add_argument("--update", action="store_true",
                   help="keep the other methods' rows of the existing video-flicker.md")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="brushwork-video-flicker-"))
    clips = {"handheld (self-made)": (work / "handheld.mp4", handheld),
             "shift + zoom": (work / "shiftzoom.mp4", shift_zoom)}
    rows = []
    for label, (movie, make) in clips.items():
        truth = make(args.frames, movie)
        if args.save_clip and make is handheld:
            args.save_clip.write_bytes(movie.read_bytes())
        for method in args.methods.split(","):
            steady, spf_flow = measure(movie, truth, args.style, method, "flow", work)
            _, spf_alone = measure(movie, truth, args.style, method, "none", work)
            content = [k[0] for k in steady]
            if method == args.methods.split(",")[0]:
                rows.append((label, "input frames (as the job reads them: decoded, 8-bit steps smoothed; "
                             "not stylized)", warp_errors(content, truth), None,
                             None, None, None, None))
            alone = warp_errors([k[1] for k in steady], truth)
            flowed = warp_errors([k[2] for k in steady], truth)
            own = None
            if method.startswith("linear"):   # the naive baseline: the still tool on every frame
                own = warp_errors(own_statistics(content, args.style, method), truth)
            spf = (spf_alone, spf_flow, *per_frame_seconds(content, args.style, method))
            g, g0 = (ghost(steady, truth), ghost(steady, truth, True)) if make is handheld else (None, None)
            rows.append((label, method, alone, flowed, own, spf, g, g0))
            print(f"{label:22} {method:11} alone {alone:5.2f} flow {flowed:5.2f} ({1 - flowed / alone:.0%} less)"
                  f"{'' if own is None else f'  own stats {own:5.2f}'}  job s/frame {spf[0]:.2f}/{spf[1]:.2f}, "
                  f"stylize {spf[2]:.3f} flow {spf[3]:.3f}"
                  f"{'' if g is None else f'  ghost {g:.2f} (no mask {g0:.2f})'}", flush=True)
            if make is handheld and method.startswith("linear"):
                save_gif(steady, args.out / "video-side-by-side.gif")
                save_pngs(steady, work / "pngs", method)
            elif make is handheld:
                save_pngs(steady, work / "pngs", method)
    fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
    lines = ["| clip | method | per frame, own statistics | per frame, shared transformation | + flow coherence "
             "| cut | s/frame: stylize + flow | job s/frame: none / flow | ghost: flow (no mask) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, method, alone, flowed, own, spf, g, g0 in rows:
        if flowed is None:
            lines.append(f"| {label} | {method} | | {alone:.2f} | | | | | |")
            continue
        ghost_cell = "" if g is None else f"{g:.2f} ({g0:.2f})"
        lines.append(f"| {label} | {method} | {fmt(own)} | {alone:.2f} | {flowed:.2f} | {1 - flowed / alone:.0%} "
                     f"| {spf[2]:.2f} + {spf[3]:.2f} | {spf[0]:.2f} / {spf[1]:.2f} | {ghost_cell} |")
    note = (f"Mean warp error between consecutive stylized frames (0–255, TRUE motion, non-occluded pixels; "
            f"EVAL.md), {args.frames} frames of {W}×{H}-ish at {FPS} fps, blend 0.75; "
            f"`python scripts/video_flicker.py`. Flow for coherence: DIS on the decoded footage.\n\n")
    tail = ["", "- *own statistics*: every frame stylized like a still (its own content statistics); "
            "*shared transformation*: one transformation for the clip (`--coherence none`); "
            "*+ flow coherence*: the default `--coherence flow`. *cut*: flow vs. shared transformation.",
            "- *ghost*: mean |output − the frame stylized alone| on the background pixels the moving disc "
            "uncovered (0–255): small means the occlusion mask kept the disc from being dragged along; "
            "in brackets the same blend with no mask.",
            "- s/frame, on this machine's CPU (2 cores shared with other work, so the job times are noisy): "
            "*stylize + flow* are medians over 16 frames, measured interleaved (flow: DIS both ways, the "
            "consistency mask and the blend); *job* is a whole `clip.run` (decode, statistics, stylize, flow, "
            "the job's own flicker measurement, encode) divided by the frames.",
            "- The handheld clip is self-made (no licensed filmed footage was available): "
            "see scripts/video_flicker.py and tests/data/README.md."]
    if args.update:
        lines = lines[:2] + kept_rows((args.out / "video-flicker.md").read_text(), lines[2:], args.frames)
    (args.out / "video-flicker.md").write_text(note + "\n".join(lines + tail) + "\n")
    print(f"wrote {args.out / 'video-flicker.md'}; work files in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
