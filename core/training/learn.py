"""Learn one painting: ccpl-r31 tuned to it in a few minutes on the CPU (issue 49).

An artist who keeps one painting for a whole project can wait once for a closer look:
ccpl-r31's trainable parts (its transformation `ccpl_r31` and its own decoder
`ccpl_decoder_r31`) are trained further, from the shipped weights, on that painting alone,
with the recipe that trained them (`RECIPE`: scripts/train.toml's [ccpl_r31_joint]: the
content, mean/std style, CCP and shift losses) at lr 1e-4 with a warm-up and a cosine
decay. The contents are crops of the artist's own maps or frames, else a procedural set
made here (`procedural_contents`: no photo ships). The pilot: 150 steps of 8 crops at
192 px, 1.5 s a step in bf16 on a 2-core Xeon (about 4 minutes); on 12 validation photos
the style ratios fell 15-46 % for a little more content loss on both judges.

The result, a small fp16 safetensors file in the per-user cache (core/nets/learned.py),
is written atomically; jobs with that painting and ccpl-r31 then use it by themselves.
A whole run keeps its last weights (the rate has decayed there); Ctrl-C (or the worker's
cancel, or the time running out) stops after the step in flight and keeps the best so far:
the weights at the lowest smoothed loss once the average has settled.
"""
from __future__ import annotations

import io
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import backends, gallery
from ..engine.stylizer import Settings
from ..errors import BrushworkError, Cancelled, SettingError, is_finite_number
from ..nets import learned

STAGE = "ccpl_r31_joint"
RECIPE = {  # scripts/train.toml's [ccpl_r31_joint] (tests/test_learn.py holds them equal), lr 1e-4
    "kind": "linear", "model": "ccpl_r31", "decoder": "ccpl_decoder_r31", "init_decoder": "decoder_r31",
    "layer": "r31", "size": 192, "batch": 8, "lr": 1e-4, "content_weight": 1.0, "style_weight": 40.0,
    "ccp_weight": 0.5, "shift_weight": 300.0, "jitter": 0.15,
}
STEPS = 150              # the pilot's: about 4 minutes at 1.5 s a step
WARMUP = 0.1             # of the steps: the rate rises to RECIPE["lr"], then a cosine decay to a tenth
SMOOTH = 0.9             # the loss that picks the best weights: an exponential average
CONTENT_SIDE, STYLE_SIDE = 256, 288   # the training pack's sides (core/training/data.py)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr")
Progress = Callable[[float, str], None]


@dataclass(kw_only=True)
class LearnJob:
    """The worker's learn job: {"learn": PAINTING, "contents": [...], "steps": N | "minutes": M}."""
    learn: str                          # the painting: a file or a gallery id
    contents: list[str] | None = None   # images or folders of them; none: the procedural set
    steps: int | None = None            # default STEPS (with `minutes` alone: as many as fit)
    minutes: float | None = None
    device: str = "cpu"
    settings: Settings = field(default_factory=Settings)  # from_spec's; unused


@dataclass
class LearnResult:
    output: str             # the learned file
    steps: int              # steps trained
    best_step: int          # the step whose weights were kept
    planned: int            # steps the schedule was planned for
    stopped: bool           # stopped early (Ctrl-C, cancel, time): the best so far was kept
    losses: dict            # "start" and "best": the smoothed losses
    seconds: float
    bf16: bool


def run(job: LearnJob, progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> LearnResult:
    """The worker's entry (core/app/worker.py's JOBS)."""
    return learn(job.learn, job.contents, steps=job.steps, minutes=job.minutes, device=job.device,
                 progress=progress, cancel=cancel)


# --- inputs -------------------------------------------------------------------------------

def check_budget(steps, minutes) -> tuple[int | None, float | None]:
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        if not (isinstance(steps, float) and steps.is_integer() and steps >= 1):
            raise SettingError("steps", steps, "give a whole number of steps, at least 1")
        steps = int(steps)
    if minutes is not None and (not is_finite_number(minutes) or minutes <= 0):
        raise SettingError("minutes", minutes, "give a number of minutes above 0")
    if steps is None and minutes is None:
        steps = STEPS
    return steps, minutes


def content_files(items: list[str]) -> list[Path]:
    """Image files from files and folders (a folder: its images, not recursing)."""
    files: list[Path] = []
    for item in items:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise BrushworkError(f"{item}: no images (PNG, JPEG, TIFF, EXR) in this folder", "contents")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise BrushworkError(f"{item}: no such file or folder", "contents")
    if not files:
        raise BrushworkError("no content images given", "contents")
    return files


def _rgb8(path) -> np.ndarray:
    """A picture as uint8 sRGB (HxWx3), as the engine reads a style or content."""
    from ..media import colour
    from ..media.image_io import read_image
    pic = read_image(str(path))
    rgb = colour.to_working(pic.color, pic.linear)
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def procedural_contents(n: int = 24, side: int = CONTENT_SIDE, seed: int = 0) -> list[np.ndarray]:
    """A small content set made here (CC0, nothing shipped): landscapes of fractal noise
    under a sky, planks, bricks, tiles, blobs and lines; photographs' kinds of structure
    (edges at all scales, smooth gradients, fine texture) in natural-looking colours."""
    import cv2
    rng = np.random.default_rng(seed)
    h, w = side, side * 5 // 4

    def noise(octaves=5, base=4):
        out = np.zeros((h, w), np.float32)
        for o in range(octaves):
            k = base * 2 ** o
            small = rng.random((k, max(1, k * w // h))).astype(np.float32)
            out += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) / 1.8 ** o
        return (out - out.min()) / (np.ptp(out) + 1e-6)

    def palette(k=3):
        hue = rng.random()
        cols = []
        for _ in range(k):
            hh = (hue + rng.normal(0, 0.12)) % 1
            s, v = rng.uniform(0.2, 0.8), rng.uniform(0.25, 0.95)
            hsv = np.uint8([[[hh * 180, s * 255, v * 255]]])
            cols.append(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0] / 255.0)
        return np.array(cols, np.float32)

    def ramp(t, cols):
        t = np.clip(t, 0, 1) * (len(cols) - 1)
        i = np.minimum(t.astype(int), len(cols) - 2)
        f = (t - i)[..., None]
        return cols[i] * (1 - f) + cols[i + 1] * f

    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    images = []
    for i in range(n):
        kind = i % 6
        if kind == 0:      # landscape: sky, hills, ground texture
            horizon = h * rng.uniform(0.3, 0.6) + (noise(4, 2)[0] - 0.5) * h * 0.4
            sky = ramp(y / h, np.array([[0.35, 0.55, 0.9], [0.85, 0.9, 0.95]], np.float32) * rng.uniform(0.7, 1.1))
            ground = ramp(noise(6, 3), palette(3))
            img = np.where((y > horizon[None, :])[..., None], ground, sky)
        elif kind == 1:    # planks
            cols = palette(2)
            wide = rng.integers(18, 48)
            grain = np.sin((x + 30 * noise(4, 2)) / rng.uniform(2, 5)) * 0.5 + 0.5
            img = ramp(0.6 * grain + 0.4 * noise(5, 4), cols)
            img *= (1 - 0.5 * ((y % wide) < 2))[..., None]
        elif kind == 2:    # bricks or tiles
            bh, bw = int(rng.integers(14, 30)), int(rng.integers(28, 70))
            row = (y // bh).astype(int)
            shift = (row % 2) * bw // 2
            grout = ((y % bh) < 2) | (((x + shift) % bw) < 2)
            cell = ((row * 7919 + ((x + shift) // bw).astype(int) * 104729) % 97) / 97.0
            img = ramp(0.7 * cell + 0.3 * noise(5, 8), palette(3))
            img[grout] = rng.uniform(0.5, 0.9)
        elif kind == 3:    # shapes over a gradient
            img = ramp((x / w + y / h) / 2 + 0.2 * noise(3, 2), palette(2))
            for _ in range(int(rng.integers(4, 10))):
                c = tuple(float(v) for v in palette(1)[0])
                if rng.random() < 0.5:
                    cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                               int(rng.integers(8, h // 3)), c, -1, cv2.LINE_AA)
                else:
                    p = rng.integers(0, [w, h], (2, 2))
                    cv2.rectangle(img, tuple(map(int, p[0])), tuple(map(int, p[1])), c, -1)
        elif kind == 4:    # foliage-like blobs
            img = ramp(noise(7, 6) ** 1.5, palette(4))
        else:              # lines and edges: a street of facades
            img = ramp(noise(3, 2), palette(2))
            for _ in range(int(rng.integers(10, 30))):
                c = tuple(float(v) for v in palette(1)[0])
                p = rng.integers(0, [w, h], (2, 2))
                cv2.line(img, tuple(map(int, p[0])), tuple(map(int, p[1])), c, int(rng.integers(1, 5)), cv2.LINE_AA)
        shade = 0.75 + 0.5 * noise(2, 2)[..., None]     # light falling across
        img = np.clip(img * shade + rng.normal(0, 0.01, img.shape), 0, 1)
        images.append((img * 255 + 0.5).astype(np.uint8))
    return images


def _jpeg(rgb: np.ndarray, short: int) -> bytes:
    from PIL import Image
    im = Image.fromarray(rgb)
    s = short / min(im.size)
    if s < 1:
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def write_pack(path: Path, contents: list[np.ndarray], style: np.ndarray) -> None:
    """A training pack (core/training/data.py's format) of these contents and one painting."""
    from . import loop
    tensors = {}
    for kind, items in (("content", [_jpeg(c, CONTENT_SIDE) for c in contents]), ("style", [_jpeg(style, STYLE_SIDE)])):
        tensors[f"{kind}_bytes"] = np.frombuffer(b"".join(items), np.uint8).copy()
        tensors[f"{kind}_ends"] = np.cumsum([len(b) for b in items]).astype(np.int64)
    loop.write_safetensors(path, tensors, {"content": str(len(contents)), "style": "1"})


# --- the learning -------------------------------------------------------------------------

def _lr(step: int, total: int, base: float) -> float:
    warm = max(1, round(WARMUP * total))
    if step < warm:
        return base * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def _say(progress: Progress | None, fraction: float, stage: str) -> None:
    if progress is not None:
        progress(min(1.0, fraction), stage)


def learn(style: str, contents: list[str] | None = None, *, steps: int | None = None,
          minutes: float | None = None, device: str = "cpu", progress: Progress | None = None,
          cancel: Callable[[], bool] | None = None, log: Callable[[str], None] | None = None,
          size: int | None = None, batch: int | None = None, seed: int = 0) -> LearnResult:
    """Tune ccpl-r31 to the painting `style` (a file or a gallery id) and write the learned
    file (core/nets/learned.py); returns what was done. `contents`: files or folders of
    images to crop (none: `procedural_contents`). `steps` and/or `minutes` bound the run
    (neither: STEPS). `progress(fraction, stage)`; `cancel()` true: stop after this step,
    keeping the best so far (as Ctrl-C does); `log`: a line every few steps. `size` and
    `batch` replace the recipe's crop side and crops per step (tests)."""
    t_start = time.monotonic()
    steps, minutes = check_budget(steps, minutes)
    path = gallery.resolve_style(style)
    if not Path(path).is_file():
        raise BrushworkError(f"{style}: no such painting (a file or a gallery id; see `brushwork gallery`)", "styles")
    if backends.resolve("auto") != "torch":
        raise BrushworkError("learning a painting needs PyTorch (pip install torch) in this Python")
    from ..engine.stylizer import check_style
    painting = _rgb8(path)
    check_style(painting.astype(np.float32) / 255, Path(style).name)
    if contents:
        images = [_rgb8(f) for f in content_files(contents)]
        source = f"{len(images)} images"
    else:
        images, source = procedural_contents(), "procedural"
    for img, name in zip(images, contents or []):
        if min(img.shape[:2]) < 32:
            raise BrushworkError(f"{name}: too small to crop (at least 32 px a side)", "contents")
    sha = learned.painting_sha256(path)
    base = learned.base_sha256()
    cfg = dict(RECIPE)
    if size:
        cfg["size"] = int(size)
    if batch:
        cfg["batch"] = max(2, int(batch) // 2 * 2)   # the shift term pairs a batch's halves

    import torch
    from . import loop
    from .stages import Stage

    _say(progress, 0.0, "loading")
    with tempfile.TemporaryDirectory(prefix="brushwork-learn-") as tmp:
        pack = Path(tmp) / "pack.safetensors"
        write_pack(pack, images, painting)
        stage = Stage(STAGE, cfg, pack, Path(tmp), device)
    names = stage.trainable
    scales = stage.lr_scales
    groups: dict[float, list] = {}
    for n, p in names.items():
        groups.setdefault(scales.get(n, 1.0), []).append(p)
    opt = torch.optim.Adam([{"params": ps, "scale": k} for k, ps in groups.items()], lr=cfg["lr"])
    exports = stage.exports
    amp = loop.autocast(stage.device)
    bf16 = stage.device.type == "cpu" and loop.cpu_has_bf16()

    planned = steps or STEPS
    smooth: dict[str, float] = {}
    start: dict[str, float] = {}
    best = (math.inf, 0, None, {})   # (smoothed loss, step, tensors, smoothed losses)
    step, stopped, diverged = 0, False, False
    t0 = time.monotonic()
    deadline = t0 + minutes * 60 if minutes else math.inf
    try:
        while step < planned:
            if (cancel is not None and cancel()) or time.monotonic() >= deadline:
                stopped = True
                break
            for group in opt.param_groups:
                group["lr"] = _lr(step, planned, cfg["lr"]) * group["scale"]
            g = torch.Generator().manual_seed(seed * 1_000_003 + step)
            with amp:
                losses = stage.step(g, step)
            opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
            opt.step()
            step += 1
            values = {k: float(v.detach()) for k, v in losses.items()}
            if not math.isfinite(values["loss"]):
                stopped = diverged = True
                break
            for k, v in values.items():
                smooth[k] = v if k not in smooth else SMOOTH * smooth[k] + (1 - SMOOTH) * v
            if step <= 10:
                start = dict(smooth)
            # until the average has settled the latest weights are the best so far; then the
            # weights at its lowest
            if step < max(1, min(planned, max(10, planned // 5))) or smooth["loss"] <= best[0]:
                best = (smooth["loss"], step, _snapshot(exports), dict(smooth))
            elapsed = time.monotonic() - t0
            if steps is None and step == 3:   # minutes alone: as many steps as fit, schedule to match
                planned = max(step + 1, int(minutes * 60 / (elapsed / step)))
            _say(progress, step / planned, "learning")
            if log is not None and (step % 10 == 0 or step == planned or step == 1):
                left = (planned - step) * elapsed / step
                log(f"learn {step}/{planned} " + " ".join(f"{k}={v:.4g}" for k, v in smooth.items())
                    + f" ({elapsed:.0f} s, about {left / 60:.1f} min left)")
    except KeyboardInterrupt:
        stopped = True
    if not stopped:   # a whole schedule: its end, where the rate has decayed (as the pilot measured)
        best = (smooth["loss"], step, _snapshot(exports), dict(smooth))
    if best[2] is None:
        if diverged:
            raise BrushworkError("learning diverged at its first step (loss not finite); nothing was written")
        raise Cancelled()
    _say(progress, 1.0, "writing")
    out = learned.path_for(sha)
    arrays = {f"{key}/{n}": a for key, named in best[2].items() for n, a in named.items()}
    meta = {"format": learned.FORMAT, "method": learned.METHOD, "painting_sha256": sha,
            "painting": Path(path).name, "painting_path": str(Path(path).expanduser().resolve()),
            "base_sha256": json.dumps(base), "steps": str(step), "best_step": str(best[1]),
            "planned": str(planned), "stopped": str(stopped).lower(),
            "losses": json.dumps({"start": _round(start), "best": _round(best[3])}),
            "contents": source, "size": str(cfg["size"]), "batch": str(cfg["batch"]), "lr": str(cfg["lr"]),
            "bf16": str(bf16).lower(), "seconds": f"{time.monotonic() - t0:.1f}",
            "tensors_sha256": learned.tensors_sha256(arrays)}
    loop.write_safetensors(out, arrays, meta)
    return LearnResult(str(out), step, best[1], planned, stopped, {"start": _round(start), "best": _round(best[3])},
                       time.monotonic() - t_start, bf16)


def _snapshot(exports: dict) -> dict[str, dict[str, np.ndarray]]:
    """The exported modules' tensors now, as fp16 arrays in their logical layout."""
    return {key: {n: np.ascontiguousarray(p.detach().float().cpu().numpy(), np.float16)
                  for n, p in sorted(module.named().items())}
            for key, module in exports.items()}


def _round(d: dict) -> dict:
    return {k: float(f"{v:.5g}") for k, v in d.items()}
