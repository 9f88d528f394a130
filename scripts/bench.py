#!/usr/bin/env python3
"""Brushwork's speed and memory, next to this machine's own convolution floor.

Why this exists: a runtime means little unless you know what the hardware could do.
In one run this script (1) times, with torch on the same device, every distinct
convolution shape in each method's encoder and decoder on its own. That gives the
*floor*: how long a megapixel would take if every conv ran exactly that fast and nothing
else cost anything. (2) It runs whole jobs, 8-bit PNG in → PNG out as `python -m core
stylize` does, per method, size and mode (whole image or the default tiles), and times the
compute apart from decoding and encoding. Each run is a fresh subprocess, so peak RSS
(and peak GPU memory) belongs to that job alone. (3) It times the PNG write and read per
zlib level, (4) optionally 1920×1080 frames per second, and (5) with --peer-microast, a
MicroAST checkout's whole-image time and memory at the same sizes. It then prints
measured ÷ floor and checks issue 10's targets.

    python scripts/bench.py                                  # 3 methods × 1K, 2K, 4K (+8K on CUDA)
    python scripts/bench.py --sizes 1024 --methods linear-r31 --json /tmp/bench.json
    python scripts/bench.py --methods linear-r31,linear-r41,wct-r31 --sizes 1024,2048,4096,8192,16384 \
        --cap linear-r41=8192 --cap wct-r31=8192 --frames 3 --peer-microast ../MicroAST
    python scripts/bench.py --backends torch,onnx --methods linear-r31 --sizes 1024,2048 --device cpu
    python scripts/bench.py --precision fp32,bf16 --methods linear-r31 --sizes 2048,4096 --peer-microast ../MicroAST

With `--backends torch,onnx` every run is made on both backends (onnxruntime: what the
Blender extension runs without torch) and a last table compares them. The floor is
torch's either way. With `--precision fp32,bf16` (torch) every run, the floor and
MicroAST are measured in each precision, each judged against its own floor.

Untrained (deterministic random) weights are used where no trained file exists; the
compute is identical.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.mem.allocator import keep_freed_memory  # noqa: E402
from core.nets.architecture import ENCODERS, MODELS  # noqa: E402  (no torch: cheap)
from core.engine.stylizer import Settings  # noqa: E402
from core.engine.methods import METHODS  # noqa: E402

TILE = Settings.tile   # the engine's default tile, and the floor's representative input
STYLE_PX = 512         # style image side (the engine's STYLE_SIZE)
DOMINANT_SHARE = 0.05  # a conv shape is "dominant" if it carries ≥ 5 % of some method's FLOPs
EXPECTED_MFLOP_PX = {"linear-r31": 0.50, "linear-r41": 1.01, "ccpl": 1.01, "wct-r31": 0.45}
TARGET_RATIO = 1.5                       # 4K r31 and r41 within this factor of the floor
RSS_TARGETS_GB = {4096: 3.0, 8192: 4.0}  # peak RSS of a whole job, per size
FLAT = 0.15                              # MP/s may vary this much from 2K up
MARK = "BENCH-RESULT "
CONTENDED = 0.25       # cores busy elsewhere during a run above which its time is flagged
PEER_GB_AT_4K = 9.6    # MicroAST's whole-image peak at 4K (issue 10): sizes it cannot fit are skipped


# ----------------------------------------------------------------------------- floor

@dataclass(frozen=True)
class Conv:
    name: str
    cin: int
    cout: int
    k: int
    scale: int  # input pixels per pixel of this layer's input

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self.cin, self.cout, self.k, self.scale

    @property
    def flop_px(self) -> float:
        """FLOPs per pixel of the input image (multiply + add)."""
        return 2 * self.cin * self.cout * self.k ** 2 / self.scale ** 2


def conv_layers(method: str) -> list[Conv]:
    """The method's encoder, decoder and (Linear) content-statistics convolutions, with the
    scale each one runs at. Linear's `cnet` runs once over the whole feature map for the
    content matrix: per-image compute like the rest, so it counts towards the floor too."""
    m = METHODS[method]
    out, scale = [], 1
    for part in (ENCODERS[m.layer], MODELS[m.decoder].parts["decoder"]):
        for layer in part.layers:
            if layer[0] == "conv":
                _, name, cin, cout, k, _pad = layer
                out.append(Conv(name, cin, cout, k, scale))
            elif layer[0] == "pool":
                scale *= 2
            elif layer[0] == "up":
                scale //= 2
    assert scale == 1, f"{method}: decoder does not return to the input scale"
    if m.kind == "linear":
        out += [Conv(layer[1], layer[2], layer[3], layer[4], m.stride)
                for layer in MODELS[m.transform].parts["cnet"].layers if layer[0] == "conv"]
    return out


def conv_parts(method: str) -> dict[str, list[Conv]]:
    """`conv_layers` split by the stage that runs them: encode, statistics (Linear's
    `cnet`), decode."""
    m = METHODS[method]
    layers = conv_layers(method)
    n_enc = sum(1 for layer in ENCODERS[m.layer].layers if layer[0] == "conv")
    n_dec = sum(1 for layer in MODELS[m.decoder].parts["decoder"].layers if layer[0] == "conv")
    return {"encode": layers[:n_enc], "decode": layers[n_enc:n_enc + n_dec], "statistics": layers[n_enc + n_dec:]}


def flop_px(method: str) -> float:
    return sum(c.flop_px for c in conv_layers(method))


def torch_dtype(precision: str):
    import torch
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def measure_conv(shape, device, warmup=1, repeats=None, precision="fp32") -> dict:
    """Sustained FLOP/s of one conv shape on a default tile's worth of input at its scale,
    in `precision` (the arithmetic the runs it judges use)."""
    import torch
    import torch.nn.functional as F
    cin, cout, k, scale = shape
    dtype = torch_dtype(precision)
    side = TILE // scale
    repeats = repeats or (3 if device.type == "cpu" else 10)
    g = torch.Generator().manual_seed(cin * 1000 + cout)
    x = torch.rand(1, cin, side, side, generator=g).to(device).contiguous(memory_format=torch.channels_last)
    w = ((torch.rand(cout, cin, k, k, generator=g) - 0.5) / (cin * k * k) ** 0.5).to(device)
    w = w.contiguous(memory_format=torch.channels_last)
    b = torch.zeros(cout).to(device)
    x, w, b = x.to(dtype), w.to(dtype), b.to(dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            sync()
            t0 = time.perf_counter()
            y = F.conv2d(x, w, b, padding=k // 2)
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - t0)
            del y
    secs = statistics.median(times)
    flops = 2 * cin * cout * k * k * side * side
    return {"cin": cin, "cout": cout, "k": k, "scale": scale, "input": [cin, side, side],
            "seconds": secs, "flops": flops, "rate": flops / secs}


def floor_pass(shapes, device, precision="fp32") -> tuple[dict, float | None]:
    """One measurement of every shape, and the cores other processes used meanwhile."""
    before, r0, t0 = _cpu_seconds(), _own_cpu(resource.RUSAGE_SELF), time.perf_counter()
    rates = {}
    for shape in shapes:
        log(f"floor ({precision}): conv {shape[0]}→{shape[1]} k{shape[2]} at 1/{shape[3]}")
        rates[shape] = measure_conv(shape, device, precision=precision)
    return rates, _others(before, _own_cpu(resource.RUSAGE_SELF) - r0, time.perf_counter() - t0)


def floor(methods: list[str], passes: list[tuple[dict, float | None]]) -> dict:
    """Per-shape rates (the faster pass), the peak over dominant shapes, each method's floor s/MP."""
    dominant = set()
    for m in methods:
        total = flop_px(m)
        dominant |= {c.shape for c in conv_layers(m) if c.flop_px / total >= DOMINANT_SHARE}
    rates = {s: max((p[s] for p, _ in passes), key=lambda r: r["rate"]) for s in passes[0][0]}
    per_method = {}
    for m in methods:
        layers = conv_layers(m)
        s_px = sum(c.flop_px / rates[c.shape]["rate"] for c in layers)
        per_method[m] = {"flop_px": flop_px(m), "floor_s_per_mp": s_px * 1e6,
                         "layers": [dict(asdict(c), flop_px=c.flop_px) for c in layers]}
    peak = max(rates[s]["rate"] for s in dominant)
    return {"shapes": [dict(rates[s], dominant=s in dominant,
                            pass_rates=[p[s]["rate"] for p, _ in passes]) for s in rates],
            "peak_rate": peak, "methods": per_method, "others_cores": [o for _, o in passes]}


def shapes_of(methods: list[str]) -> list[tuple]:
    return sorted({c.shape for m in methods for c in conv_layers(m)}, key=lambda s: (s[3], s[0], s[1]))


def _cpu_seconds() -> float | None:
    """Busy CPU seconds of the whole machine since boot (all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:8]]
        return (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")  # user nice system irq softirq
    except (OSError, ValueError, IndexError, AttributeError):
        return None  # not Linux


def _own_cpu(who) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _others(before: float | None, own: float, wall: float) -> float | None:
    """Cores other processes kept busy over `wall` seconds (machine busy time minus ours)."""
    after = _cpu_seconds()
    if before is None or after is None or wall <= 0:
        return None
    return max(0.0, (after - before - own) / wall)


# ----------------------------------------------------------------------------- runs

def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A photo-like float32 sRGB image in [0, 1]: smooth gradients, hard edges, fine
    stripes and noise. Built in row bands so generating it adds little to peak RSS."""
    rng = np.random.default_rng(seed)
    out = np.empty((h, w, 3), np.float32)
    n = max(h, w)
    x = (np.arange(w, dtype=np.float32) / n)[None, :]
    for y0 in range(0, h, 256):
        y = (np.arange(y0, min(h, y0 + 256), dtype=np.float32) / n)[:, None]
        band = out[y0:y0 + y.shape[0]]
        band[..., 0] = 0.5 + 0.4 * np.sin(6 * x + 2 * y)
        band[..., 1] = 0.5 + 0.3 * np.cos(5 * y + 1.5 * x)
        band[..., 2] = 0.3 + 0.4 * x * y
        disc = (x - 0.65) ** 2 + (y - 0.6) ** 2 < 0.15 ** 2
        band[disc] = (0.15, 0.35, 0.8)
        rect = (x > 0.2) & (x < 0.45) & (y > 0.3) & (y < 0.5)
        band[rect] = (0.9, 0.2, 0.1)
        stripes = (x > 0.05) & (x < 0.3) & (y > 0.7) & (y < 0.9)
        band[..., 1] += np.where(stripes, 0.3 * np.sign(np.sin(x * n / 3)), 0).astype(np.float32)
        band += rng.standard_normal(band.shape, dtype=np.float32) * 0.03
    np.clip(out, 0, 1, out=out)
    return out


def make_input(spec: dict) -> dict:
    """Write the photo of one size as an 8-bit PNG (in its own process, so making it
    counts towards no run's peak RSS)."""
    from core.media.image_io import Picture, write_image
    img = photo(spec["size"], spec["size"], seed=spec.get("seed", 0))
    if spec.get("flip"):
        img = img[..., ::-1].copy()
    write_image(spec["path"], Picture(img, np.uint8, linear=False))
    return {"bytes": os.path.getsize(spec["path"])}


def one(spec: dict) -> dict:
    """One (method, size, mode, backend) measurement of a whole job, PNG file in → PNG file
    out, as `python -m core stylize` runs it; in its own process (torch is imported only
    for the torch backend, so an onnx run's RSS holds no torch). Compute (`stylize`) is
    timed apart from decoding (`read`), the style and encoding (`write`)."""
    from core.jobs import image as jobs
    from core.engine.stylizer import Settings, Stylizer
    backend, precision = spec.get("backend", "torch"), spec.get("precision", "fp32")
    st = Stylizer(spec["method"], spec["device"], allow_untrained=True, backend=backend, precision=precision)
    cuda = backend == "torch" and st.backend.device.type == "cuda"
    if backend == "torch":
        import torch
    settings = Settings(tile=spec["tile"])
    warm = st.style(photo(STYLE_PX, STYLE_PX, seed=3))
    st.run(photo(256, 256, seed=2), [warm], settings)  # builds the networks, warms allocators
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    runs, cpu = [], []
    probe = [probe_rate(st.backend.device, precision) if backend == "torch" else None]
    out = os.path.join(spec["folder"], f"out-{os.getpid()}.png")
    for _ in range(spec["repeat"]):
        job = jobs.Job(content=spec["input"], styles=[spec["style"]], output=out, method=spec["method"],
                       settings=settings, device=spec["device"], allow_untrained=True, backend=backend,
                       precision=precision, overwrite=True)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        result = jobs.run(job, stylizer=st)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        runs.append(result.timings)
        cpu.append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) / result.seconds)
    if probe[0] is not None:
        probe.append(probe_rate(st.backend.device, precision))
    med = {k: statistics.median(t[k] for t in runs) for k in runs[0]}
    res = {"seconds": med["stylize"], "times": [t["stylize"] for t in runs],
           "read_seconds": med["read"], "write_seconds": med["write"], "style_seconds": runs[0]["style"],
           "cores_busy": statistics.median(cpu),
           "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
           "peak_gpu_bytes": torch.cuda.max_memory_allocated() if cuda else None,
           "probe_rate": None if probe[0] is None else statistics.mean(probe),
           "device": str(st.backend.device),
           "threads": torch.get_num_threads() if backend == "torch" else os.cpu_count(),
           "untrained": st.untrained}
    if spec.get("png_io"):
        from core.media.image_io import read_image
        res["io"] = png_io(read_image(out).color)
    os.remove(out)
    return res


# Stages of a whole job as `python -m core stylize` runs it, in order: (label, module, name)
# of the function whose time is the stage's.
STAGES = (
    ("networks: load (torch or onnxruntime import, weights)", "core.jobs.image", "_stylizers"),
    ("read: PNG decode", "core.jobs.image", "read_image"),
    ("8-bit smoothing", "core.jobs.image", "smooth_file"),
    ("style: read + encode + matrix", None, None),  # load_style + Stylizer.style
    ("encode (VGG to relu3_1, tiles)", "core.engine.stylizer.Stylizer", "_encode"),
    ("statistics (content matrix)", "core.engine.stylizer", "content_side"),
    ("transform (folded into the decoder's first conv)", "core.engine.stylizer", "Transform"),
    ("decode (tiles; feathered below fp32)", "core.engine.stylizer.Stylizer", "_decode"),
    ("write: to 8 bits + PNG encode", "core.jobs.image", "write_image"),
)


def breakdown(spec: dict) -> dict:
    """One default job, file to file, exactly as the CLI runs it (`core.app.cli.main`), with
    each stage timed (wall and this process's CPU) by wrapping the function that does it;
    then, in the same process, the floors of its file stages: the PNG codec alone on the
    same files (OpenCV's decode of the input, its encode of the result at the level the
    job writes with)."""
    import functools
    import importlib
    entered = time.time()
    times: dict = {}

    def timed(owner, name, label):
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def wrapper(*a, **k):
            t0, c0 = time.perf_counter(), _own_cpu(resource.RUSAGE_SELF)
            try:
                return fn(*a, **k)
            finally:
                w, c = times.get(label, (0.0, 0.0))
                times[label] = (w + time.perf_counter() - t0, c + _own_cpu(resource.RUSAGE_SELF) - c0)
        setattr(owner, name, wrapper)

    def owner_of(path):
        mod, _, cls = path.rpartition(".")
        try:
            return importlib.import_module(path)
        except ImportError:
            return getattr(importlib.import_module(mod), cls)

    from core.app import cli
    from core.jobs import image as jobs_image
    from core.engine import stylizer as stylizer_mod
    for label, path, name in STAGES:
        if path:
            timed(owner_of(path), name, label)
    style_label = STAGES[3][0]
    timed(jobs_image, "load_style", style_label)
    timed(stylizer_mod.Stylizer, "style", style_label)
    argv = ["stylize", spec["input"], spec["style"], "-o", spec["output"], "--overwrite", "--quiet",
            "--backend", spec.get("backend", "torch"), "--precision", spec.get("precision", "auto")]
    started = time.time()
    t0, c0 = time.perf_counter(), _own_cpu(resource.RUSAGE_SELF)
    code = cli.main(argv)
    job_s, job_cpu = time.perf_counter() - t0, _own_cpu(resource.RUSAGE_SELF) - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    res = {"exit": code, "entered": entered, "job_started": started, "job_seconds": job_s, "job_cpu": job_cpu,
           "stages": {k: {"seconds": w, "cpu": c} for k, (w, c) in times.items()}, "peak_rss_bytes": peak}
    res["codec"] = png_floor(spec["input"], spec["output"])
    os.remove(spec["output"])
    return res


def png_floor(src: str, result: str) -> dict:
    """The PNG codec alone: OpenCV decoding `src`'s bytes, and encoding `result`'s pixels
    (8-bit) at the level the engine writes with: what a read or write could cost at best."""
    import cv2
    from core.media.image_io import write_image
    import inspect
    level = inspect.signature(write_image).parameters["png_compression"].default
    data = np.fromfile(src, np.uint8)
    t0 = time.perf_counter()
    cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    decode = time.perf_counter() - t0
    pixels = cv2.imdecode(np.fromfile(result, np.uint8), cv2.IMREAD_UNCHANGED)
    t0 = time.perf_counter()
    cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, level])
    return {"decode_seconds": decode, "encode_seconds": time.perf_counter() - t0, "level": level}


def bare_start(spec: dict) -> dict:
    """A child that only starts: the interpreter, NumPy and the network runtime imported."""
    t0 = time.perf_counter()
    if spec.get("backend", "torch") == "torch":
        import torch  # noqa: F401
    else:
        import onnxruntime  # noqa: F401
    return {"import_seconds": time.perf_counter() - t0}


PROBE = (64, 64, 3, 1)  # the dominant shape of every method: how fast the machine is right now


def probe_rate(device, precision="fp32") -> float:
    """FLOP/s of the probe shape, measured inside a run's own process just before and
    after its job: a shared machine's speed drifts over minutes (here by up to a third),
    so each run is also judged against the speed the machine had while it ran."""
    return measure_conv(PROBE, device, precision=precision)["rate"]


MICROAST_WEIGHTS = {"content_encoder": "content_encoder_iter_160000.pth.tar",
                    "style_encoder": "style_encoder_iter_160000.pth.tar",
                    "modulator": "modulator_iter_160000.pth.tar", "decoder": "decoder_iter_160000.pth.tar"}


def microast(checkout: str, device, dtype):
    """(MicroAST's TestNet in eval mode, whether its published weights were found) from a
    checkout the user supplies (never shipped): random weights where models/ lacks them."""
    import torch
    sys.path.insert(0, str(checkout))
    import net_microAST as net
    torch.manual_seed(0)
    parts = {"content_encoder": net.Encoder(), "style_encoder": net.Encoder(), "modulator": net.Modulator(),
             "decoder": net.Decoder()}
    trained = all((Path(checkout) / "models" / f).is_file() for f in MICROAST_WEIGHTS.values())
    if trained:
        for key, module in parts.items():
            state = torch.load(Path(checkout) / "models" / MICROAST_WEIGHTS[key], map_location="cpu",
                               weights_only=True)
            module.load_state_dict(state)
    model = net.TestNet(parts["content_encoder"], parts["style_encoder"], parts["modulator"],
                        parts["decoder"]).eval().to(device, dtype)
    return model, trained


def peer(spec: dict) -> dict:
    """MicroAST (Wang et al., AAAI 2023) from a checkout the user supplies, whole image,
    as its own test script runs it: its published weights where the checkout has them
    (models/*.pth.tar, loaded tensors-only: `torch.load(weights_only=True)` runs no
    pickled code), else random ones (the compute and memory are the same). Timed twice:
    the network alone, tensor to tensor (`seconds`), and file to file like our jobs
    (`file_seconds`: OpenCV decoding the same 8-bit PNG, the network, the 8-bit PNG
    written at our level). In `precision`: the whole network converted, as a user
    would run it to compare with our bf16/fp16."""
    import cv2
    import torch
    dev = torch.device(spec["device"])
    dtype = torch_dtype(spec.get("precision", "fp32"))
    model, trained = microast(spec["dir"], dev, dtype)
    tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].to(dev, dtype)  # noqa: E731
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    style = tensor(photo(STYLE_PX, STYLE_PX, seed=1))
    times, files = [], []
    with torch.inference_mode():
        model(tensor(photo(256, 256, seed=2)), style)  # warm
        content = tensor(photo(spec["size"], spec["size"]))
        for _ in range(spec["repeat"]):
            sync()
            t0 = time.perf_counter()
            out = model(content, style)
            sync()
            times.append(time.perf_counter() - t0)
            del out
        del content
        if spec.get("input"):
            dst = os.path.join(spec["folder"], f"microast-{os.getpid()}.png")
            for _ in range(spec["repeat"]):
                t0 = time.perf_counter()
                bgr = cv2.imdecode(np.fromfile(spec["input"], np.uint8), cv2.IMREAD_COLOR)
                x = torch.from_numpy(bgr[..., ::-1].transpose(2, 0, 1).copy())[None].to(dev, dtype) / 255
                del bgr
                y = model(x, style)
                del x
                rgb = (y[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
                del y
                ok, png = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 3])
                png.tofile(dst)
                files.append(time.perf_counter() - t0)
                del rgb, png
            os.remove(dst)
    return {"seconds": statistics.median(times), "times": times, "trained": trained,
            "file_seconds": statistics.median(files) if files else None,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "peak_gpu_bytes": torch.cuda.max_memory_allocated() if dev.type == "cuda" else None}


PNG_LEVELS = (1, 3, 6)  # zlib levels compared; 3 is what write_image uses, 6 zlib's own default


def png_io(rgb: np.ndarray) -> dict:
    """Encode (write) and decode (read) time of the result as 8-bit PNG, per zlib level."""
    from core.media.image_io import Picture, read_image, write_image
    levels = []
    with tempfile.TemporaryDirectory(prefix="brushwork-bench-") as tmp:
        for level in PNG_LEVELS:
            path = os.path.join(tmp, f"result{level}.png")
            t0 = time.perf_counter()
            write_image(path, Picture(rgb, np.uint8, linear=False), png_compression=level)
            write_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            read_image(path)
            levels.append({"level": level, "write_seconds": write_s, "read_seconds": time.perf_counter() - t0,
                           "file_bytes": os.path.getsize(path)})
    return {"size": list(rgb.shape[:2]), "levels": levels}


def frames_fps(spec: dict) -> dict:
    """Frames per second of a 1920×1080 sequence: style and content statistics computed
    once (as `core frames` does), then every frame encode → transform → decode."""
    from core.engine.stylizer import Settings, Stylizer
    st = Stylizer(spec["method"], spec["device"], allow_untrained=True, backend=spec.get("backend", "torch"),
                  precision=spec.get("precision", "fp32"))
    side = st.style(photo(STYLE_PX, STYLE_PX, seed=1)[..., ::-1].copy())
    settings = Settings(tile=TILE)
    base = photo(1080, 1920)
    shared = st.content(base, settings)
    st.run(base, [side], settings, content=shared)  # warm
    n = spec["frames"]
    t0 = time.perf_counter()
    for i in range(n):
        st.run(np.roll(base, 6 * (i + 1), axis=1), [side], settings, content=shared)
    dt = time.perf_counter() - t0
    return {"fps": n / dt, "seconds_per_frame": dt / n,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def spawn(spec: dict) -> dict:
    """Run a child measurement (`spec["kind"]`: run, frames, peer or input) in a fresh
    interpreter (its stderr passes through), noting how many cores other processes kept
    busy meanwhile."""
    before, c0, t0 = _cpu_seconds(), _own_cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    script = os.path.join(spec["tree"], "scripts", "bench.py") if spec.get("tree") else os.path.abspath(__file__)
    proc = subprocess.run([sys.executable, script, "--one", json.dumps(spec)],
                          stdout=subprocess.PIPE, text=True)
    others = _others(before, _own_cpu(resource.RUSAGE_CHILDREN) - c0, time.perf_counter() - t0)
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK):]), others_cores=others)
    return {"error": f"exit status {proc.returncode}" + (" (killed: out of memory?)" if proc.returncode < 0 else "")}


# ----------------------------------------------------------------------------- report

def size_label(n: int) -> str:
    return f"{n // 1024}K" if n % 1024 == 0 else str(n)


def gb(n) -> str:
    return "—" if n is None else f"{n / 1e9:.2f} GB"


def report(res: dict) -> str:
    cuda = res["device"].startswith("cuda")
    L = [f"## Brushwork benchmark — {res['device_name']}, torch {res['torch']}, "
         f"{res['threads']} threads, code {res['revision']}", ""]
    for prec, fl in res.get("floors", {"fp32": res["floor"]}).items():
        L += [f"### Convolution floor, {prec} (each shape alone, channels_last, {TILE}-px tile at its scale)", "",
              "| conv | scale | input (C×H×W) | ms | GFLOP/s | dominant |", "|---|---|---|---|---|---|"]
        for s in fl["shapes"]:
            c, h, w = s["input"]
            L.append(f"| {s['cin']}→{s['cout']} {s['k']}×{s['k']} | 1/{s['scale']} | {c}×{h}×{w} | "
                     f"{s['seconds'] * 1e3:.1f} | {s['rate'] / 1e9:.1f} | {'yes' if s['dominant'] else ''} |")
        busy = ", ".join("?" if o is None else f"{o:.2f}" for o in fl["others_cores"])
        L += ["", f"Measured before and after the runs; per shape the faster pass counts (other processes "
              f"kept {busy} cores busy during the two passes).", "",
              f"Peak sustained rate over the dominant shapes ({prec}): **{fl['peak_rate'] / 1e9:.1f} GFLOP/s**", "",
              "| method | MFLOP/px | floor s/MP | style (512², cold) s |", "|---|---|---|---|"]
        for m, f in fl["methods"].items():
            st = [r["style_seconds"] for r in res["runs"]
                  if r["method"] == m and "style_seconds" in r and r.get("precision", prec) == prec]
            L.append(f"| {m} | {f['flop_px'] / 1e6:.3f} | {f['floor_s_per_mp']:.3f} | "
                     f"{statistics.median(st):.2f} |" if st else f"| {m} | {f['flop_px'] / 1e6:.3f} | "
                     f"{f['floor_s_per_mp']:.3f} | — |")
        L.append("")
    L += ["", f"### Whole jobs, 8-bit PNG in → PNG out (median of {res['repeat']})", "",
          "`s` is compute alone (`Stylizer.run`: encode, statistics, transform, decode); the style, "
          "decoding the input (read) and encoding the result (write) are timed apart. Peak RSS is the "
          "whole job's, reading and writing included.", ""]
    L += ["`speed` is how fast the machine ran the probe convolution (64→64, 3×3) inside the run's own "
          "process, just before and after its job, relative to the floor passes: this shared machine's "
          "speed drifts over minutes. `× floor now` and `MP/s now` are judged at that speed.", ""]
    L += ["`× floor` compares a run with the floor of its own precision.", ""]
    head = ("| method | backend | precision | size | mode | s | MP/s | MFLOP/px | GFLOP/s | × floor | speed | "
            "× floor now | MP/s now | cores busy | read s | write s | peak RSS |")
    L += [head + (" peak GPU |" if cuda else ""), "|---" * (17 + cuda) + "|"]
    for r in res["runs"]:
        mode = "whole" if r["tile"] == 0 else f"tiled {r['tile']}"
        row = (f"| {r['method']} | {r.get('backend', 'torch')} | {r.get('precision', 'fp32')} | "
               f"{size_label(r['size'])} | {mode} |")
        if "seconds" not in r:
            why = "skipped" if r.get("skipped") else r.get("error", "failed")
            L.append(row + f" — ({why}) |" + " — |" * (11 + cuda))
            continue
        busy = r.get("others_cores")
        mark = "*" if busy is not None and busy > CONTENDED else ""
        row += (f" {r['seconds']:.2f}{mark} | {r['mp_per_s']:.2f} | {r['flop_px'] / 1e6:.3f} | "
                f"{r['flop_per_s'] / 1e9:.1f} | {r['ratio']:.2f}× | {r['speed']:.2f} | {r['ratio_now']:.2f}× | "
                f"{r['mp_per_s_now']:.3f} | {r['cores_busy']:.2f} | "
                f"{r['read_seconds']:.2f} | {r['write_seconds']:.2f} | {gb(r['peak_rss_bytes'])} |")
        L.append(row + (f" {gb(r['peak_gpu_bytes'])} |" if cuda else ""))
    L += compare_backends(res["runs"])
    L += compare_peer(res)
    io = res.get("io")
    L.append("")
    contended = [r for r in res["runs"] if (r.get("others_cores") or 0) > CONTENDED]
    if contended:
        worst = max(r["others_cores"] for r in contended)
        L += [f"\\* other processes kept up to {worst:.2f} cores busy during these runs: "
              "their times are pessimistic.", ""]
    if io:
        h, w = io["size"]
        L += [f"### PNG settings: the {w}×{h} result as 8-bit PNG per zlib level (encode = write, decode = read)", "",
              "| zlib level | encode s | decode s | MB |", "|---|---|---|---|"]
        L += [f"| {v['level']}{' (used)' if v['level'] == 3 else ''} | {v['write_seconds']:.2f} | "
              f"{v['read_seconds']:.2f} | {v['file_bytes'] / 1e6:.1f} |" for v in io["levels"]]
        L.append("")
    if res.get("frames"):
        L += [f"### Frame sequences: 1920×1080, style and statistics once, tiled {TILE}", "",
              "| method | backend | precision | frames/s | s/frame | × floor | peak RSS |",
              "|---|---|---|---|---|---|---|"]
        floors = res.get("floors", {})
        for r in res["frames"]:
            prec = r.get("precision", "fp32")
            if "fps" not in r:
                L.append(f"| {r['method']} | {r['backend']} | {prec} | — ({r.get('error', 'failed')}) | | | |")
                continue
            fl = floors.get(prec, res["floor"])
            floor_s = fl["methods"][r["method"]]["floor_s_per_mp"] * 1920 * 1080 / 1e6
            L.append(f"| {r['method']} | {r['backend']} | {prec} | {r['fps']:.3f} | {r['seconds_per_frame']:.2f} | "
                     f"{r['seconds_per_frame'] / floor_s:.2f}× | {gb(r['peak_rss_bytes'])} |")
        L.append("")
    L += ["", "### Targets" + (" (set for CPU; shown for this CUDA run for reference)" if cuda else ""), ""]
    for t in res["targets"]:
        L.append(f"- {t['name']}: {t['value']} → **{t['verdict']}**")
    return "\n".join(L)


def compare_backends(runs: list[dict]) -> list[str]:
    """onnx ÷ torch time for every (method, size, mode) measured on both."""
    done = {(r["method"], r["size"], r["tile"], r.get("backend", "torch")): r for r in runs if "seconds" in r}
    pairs = [(k[:3], done[k], done[k[:3] + ("onnx",)]) for k in done
             if k[3] == "torch" and k[:3] + ("onnx",) in done]
    if not pairs:
        return []
    L = ["", "### onnxruntime vs torch (same device, sizes and tiles)", "",
         "| method | size | mode | torch s | onnx s | onnx ÷ torch | faster | peak RSS torch / onnx |",
         "|---|---|---|---|---|---|---|---|"]
    for (m, size, tile), t, o in pairs:
        ratio = o["seconds"] / t["seconds"]
        L.append(f"| {m} | {size_label(size)} | {'whole' if tile == 0 else f'tiled {tile}'} | "
                 f"{t['seconds']:.2f} | {o['seconds']:.2f} | {ratio:.2f} | {'onnx' if ratio < 1 else 'torch'} | "
                 f"{gb(t['peak_rss_bytes'])} / {gb(o['peak_rss_bytes'])} |")
    return L


def compare_peer(res: dict) -> list[str]:
    """MicroAST whole-image beside Brushwork's tiled default (first method) at each size."""
    if not res.get("peer"):
        return []
    first = res["methods"][0]
    ours = {(r["size"], r.get("precision", "fp32")): r for r in res["runs"] if r["method"] == first
            and r["tile"] == TILE and r.get("backend", "torch") == "torch" and "seconds" in r}
    L = ["", f"### Peer: MicroAST, whole image, tensor to tensor, same run (Brushwork: {first}, tiled), "
         "each precision against the same", "",
         "| size | precision | MicroAST s | MicroAST peak RSS | Brushwork s | Brushwork peak RSS (whole job) | "
         "MicroAST ÷ Brushwork time |", "|---|---|---|---|---|---|---|"]
    for p in res["peer"]:
        o = ours.get((p["size"], p.get("precision", "fp32")))
        theirs = (f"{p['seconds']:.2f} | {gb(p['peak_rss_bytes'])}" if "seconds" in p
                  else f"— ({p.get('skipped') or p.get('error', 'failed')}) | —")
        mine = f"{o['seconds']:.2f} | {gb(o['peak_rss_bytes'])}" if o else "— | —"
        ratio = f"{p['seconds'] / o['seconds']:.2f}" if o and "seconds" in p else "—"
        L.append(f"| {size_label(p['size'])} | {p.get('precision', 'fp32')} | {theirs} | {mine} | {ratio} |")
    return L


def targets(res: dict) -> list[dict]:
    """Issue 10's CPU targets, judged on this run's tiled torch rows in its first precision
    (MicroAST: in every precision, each against the same)."""
    first = res.get("precisions", ["fp32"])[0]
    every = [r for r in res["runs"]
             if r["tile"] == TILE and r.get("backend", "torch") == "torch" and "seconds" in r]
    runs = {(r["method"], r["size"]): r for r in every if r.get("precision", "fp32") == first}
    out = []

    def target(name, ok, value):
        out.append({"name": name, "value": value, "verdict": "n/a" if ok is None else ("PASS" if ok else "FAIL")})

    for m in ("linear-r31", "linear-r41"):
        r = runs.get((m, 4096))
        target(f"4K {m} within {TARGET_RATIO}× of the floor (at the machine's speed during the run)",
               r["ratio_now"] <= TARGET_RATIO if r else None,
               f"{r['ratio_now']:.2f}× ({r['ratio']:.2f}× against the floor passes)" if r else "not measured in this run")
    for size, limit in RSS_TARGETS_GB.items():
        worst = max((r["peak_rss_bytes"] / 1e9 for (_, n), r in runs.items() if n == size), default=None)
        target(f"{size_label(size)} peak RSS < {limit:g} GB (every method)", None if worst is None else worst < limit,
               "not measured in this run" if worst is None else f"at most {worst:.2f} GB")
    for m in res["methods"]:
        mine = sorted((n, r["mp_per_s_now"], r["mp_per_s"]) for (mm, n), r in runs.items() if mm == m and n >= 2048)
        if len(mine) < 2:
            continue
        spread = max(abs(v / mine[0][1] - 1) for _, v, _ in mine)
        raw = max(abs(v / mine[0][2] - 1) for _, _, v in mine)
        target(f"{m}: MP/s flat (±{FLAT:.0%}) from {size_label(mine[0][0])} to {size_label(mine[-1][0])}, "
               "at the machine's speed", spread <= FLAT,
               " → ".join(f"{v:.3f}" for _, v, _ in mine) + f" MP/s (at most {spread:.0%} off; raw "
               + " → ".join(f"{v:.3f}" for _, _, v in mine) + f", {raw:.0%})")
    big = [r for (_, n), r in runs.items() if n >= 16384]
    target("16K completes (output memory-mapped)", True if big else None,
           ", ".join(f"{r['method']} {r['seconds']:.0f} s, {gb(r['peak_rss_bytes'])}" for r in big) or "not run")
    for prec in res.get("precisions", ["fp32"]):
        theirs = next((p for p in res.get("peer", []) if p["size"] == 4096 and "seconds" in p
                       and p.get("precision", "fp32") == prec), None)
        ours = next((r for r in every if r["method"] == res["methods"][0] and r["size"] == 4096
                     and r.get("precision", "fp32") == prec), None)
        both = theirs is not None and ours is not None
        target(f"4K {res['methods'][0]} faster than MicroAST whole-image, both {prec}",
               ours["seconds"] < theirs["seconds"] if both else None,
               f"{ours['seconds']:.1f} s vs {theirs['seconds']:.1f} s" if both else "not measured in this run")
    return out


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(["linear-r31", "linear-r41", "ccpl"]),
                    help="comma-separated methods (default: all three)")
    ap.add_argument("--sizes", default=None,
                    help="comma-separated square sizes in px (default 1024,2048,4096; +8192 on CUDA)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per measurement; the median is reported")
    ap.add_argument("--backends", default="torch",
                    help="comma-separated: torch, onnx or both (default torch)")
    ap.add_argument("--whole-max", type=int, default=2048,
                    help="largest size run as one whole image (tile 0); larger ones show —")
    ap.add_argument("--frames", type=int, default=0, metavar="N",
                    help="also time N frames of a 1920×1080 sequence per method (style and statistics once)")
    ap.add_argument("--cap", action="append", default=[], metavar="METHOD=SIZE",
                    help="largest size to run METHOD at (e.g. linear-r41=8192: 16K r41 takes ~1 h on 2 cores)")
    ap.add_argument("--peer-microast", metavar="DIR",
                    help="a MicroAST checkout (never committed): adds its whole-image time and memory")
    ap.add_argument("--precision", default="auto",
                    help="comma-separated: auto (what a job picks: fp16 on CUDA, fp32 on a CPU), fp32, bf16, "
                         "fp16; each gets its own floor, rows and MicroAST rows")
    ap.add_argument("--breakdown", action="store_true",
                    help="the default job stage by stage (start-up, read, smoothing, style, encode, statistics, "
                         "transform, decode, write), each against its floor, at --sizes (default 2048,4096,8192), "
                         "with MicroAST beside it where --peer-microast is given")
    ap.add_argument("--baseline", metavar="DIR",
                    help="with --breakdown: also a checkout of earlier code (its core/ and this scripts/bench.py), "
                         "run alternately with ours: before and after in one run")
    ap.add_argument("--json", metavar="PATH", help="also write every number as JSON here")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    # Every process here (the floor, each job, MicroAST) allocates as `python -m core` does.
    allocator_kept = keep_freed_memory()

    if args.one:  # child: one measurement, result on stdout
        spec = json.loads(args.one)
        child = {"run": one, "frames": frames_fps, "peer": peer, "input": make_input, "breakdown": breakdown,
                 "start": bare_start}[spec.get("kind", "run")]
        print(MARK + json.dumps(child(spec)), flush=True)
        return 0

    import torch

    from core.backends.torch.backend import pick_device, pick_precision
    from core.errors import BrushworkError
    try:
        device = pick_device(args.device)
        precisions = list(dict.fromkeys(pick_precision(p.strip(), device)
                                        for p in args.precision.split(",") if p.strip()))
    except BrushworkError as e:
        ap.error(str(e))
    if not precisions:
        ap.error("--precision: give at least one of auto, fp32, bf16, fp16")
    cuda = device.type == "cuda"
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            ap.error(f"--methods: unknown {m!r} (choose from {', '.join(METHODS)})")
    try:
        sizes = ([int(s) for s in args.sizes.split(",") if s.strip()] if args.sizes
                 else [1024, 2048, 4096] + ([8192] if cuda else []))
    except ValueError:
        ap.error(f"--sizes {args.sizes}: give whole pixel sizes such as 1024,2048")
    if not sizes or min(sizes) < 256:
        ap.error("--sizes: each size must be at least 256")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or set(backends) - {"torch", "onnx"}:
        ap.error(f"--backends {args.backends}: give torch, onnx or torch,onnx")
    caps = {}
    for cap in args.cap:
        m, _, n = cap.partition("=")
        if m not in METHODS or not n.isdigit():
            ap.error(f"--cap {cap}: give METHOD=SIZE, e.g. linear-r41=8192")
        caps[m] = int(n)
    if args.peer_microast and not (Path(args.peer_microast) / "net_microAST.py").is_file():
        ap.error(f"--peer-microast {args.peer_microast}: no net_microAST.py there (a MicroAST checkout)")

    for m in methods:
        got, want = flop_px(m) / 1e6, EXPECTED_MFLOP_PX.get(m, flop_px(m) / 1e6)
        assert abs(got - want) <= 0.02 * want, f"{m}: {got:.3f} MFLOP/px, expected ≈ {want}"

    name = torch.cuda.get_device_name(device) if cuda else (_cpu_name() or platform.processor() or "CPU")
    res = {"device": str(device), "device_name": name, "torch": torch.__version__, "revision": _revision(),
           "threads": torch.get_num_threads(), "repeat": args.repeat, "whole_max": args.whole_max,
           "allocator": "freed memory kept (core/mem/allocator.py)" if allocator_kept else "the C library's default",
           "sizes": sizes, "methods": methods, "backends": backends, "caps": caps, "precisions": precisions}
    folder = tempfile.mkdtemp(prefix="brushwork-bench-")
    if args.breakdown:
        sizes = [int(v) for v in args.sizes.split(",")] if args.sizes else [2048, 4096, 8192]
        res["sizes"] = sizes
        if args.baseline:
            res["baseline_revision"] = _revision(Path(args.baseline))
        try:
            measure_breakdown(res, args, device, sizes, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        text = breakdown_report(res)
        print(text)
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
        return 0
    try:
        measure(res, args, device, methods, sizes, backends, caps, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    res["targets"] = targets(res)
    text = report(res)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


def measure(res: dict, args, device, methods, sizes, backends, caps, folder: str) -> None:
    """Every measurement of one benchmark, into `res`; inputs are PNG files in `folder`."""
    # The floor is measured before and after the runs; per shape the faster pass counts,
    # so a burst of load from elsewhere during one pass does not flatter the ratios.
    shapes, precisions = shapes_of(methods), res["precisions"]
    passes = {p: [floor_pass(shapes, device, p)] for p in precisions}
    res["runs"] = []
    style = os.path.join(folder, "style.png")
    spawn({"kind": "input", "size": STYLE_PX, "seed": 1, "flip": True, "path": style})
    inputs = {}
    for size in sizes:
        inputs[size] = os.path.join(folder, f"photo-{size}.png")
        log(f"input: {size}² PNG")
        spawn({"kind": "input", "size": size, "path": inputs[size]})
    io_size = max(s for s in sizes if s <= 4096) if min(sizes) <= 4096 else min(sizes)
    for m in methods:
        for size in sizes:
            for tile, backend, prec in [(t, b, p) for t in (0, TILE) for b in backends for p in precisions
                                        if b == "torch" or p == precisions[0]]:  # onnx: fp32 only
                spec = {"method": m, "size": size, "tile": tile, "device": str(device),
                        "repeat": args.repeat, "backend": backend, "input": inputs[size], "style": style,
                        "folder": folder, "precision": prec if backend == "torch" else "fp32",
                        "png_io": (m == methods[0] and size == io_size and tile == TILE and backend == backends[0]
                                   and prec == precisions[0])}
                row = {k: v for k, v in spec.items() if k not in ("input", "style", "folder")}
                if (tile == 0 and size > args.whole_max) or size > caps.get(m, size):
                    row["skipped"] = True
                    res["runs"].append(row)
                    continue
                log(f"run: {m} {size}² {'whole' if tile == 0 else f'tile {tile}'} on {backend} {spec['precision']}")
                row.update(spawn(spec))
                if "seconds" in row:
                    log(f"     {row['seconds']:.2f} s compute, {row['read_seconds']:.2f} s read, "
                        f"{row['write_seconds']:.2f} s write, peak RSS {gb(row['peak_rss_bytes'])}")
                else:
                    log(f"     failed: {row.get('error')}")
                if isinstance(row.get("io"), dict):
                    res["io"] = row.pop("io")
                res["runs"].append(row)
    res["frames"] = []
    for m in methods if args.frames else []:
        for backend, prec in [(b, p) for b in backends for p in precisions if b == "torch" or p == precisions[0]]:
            prec = prec if backend == "torch" else "fp32"
            log(f"frames: {m} 1920×1080 × {args.frames} on {backend} {prec}")
            res["frames"].append({"method": m, "backend": backend, "precision": prec,
                                  **spawn({"kind": "frames", "method": m, "device": str(device),
                                           "backend": backend, "frames": args.frames, "precision": prec})})
    res["peer"] = []
    for size, prec in [(n, p) for n in sizes for p in precisions] if args.peer_microast else []:
        need = PEER_GB_AT_4K * (size / 4096) ** 2
        row = {"name": "MicroAST", "size": size, "mode": "whole", "precision": prec}
        if need > 0.8 * _ram_gb():
            row["skipped"] = f"needs ~{need:.0f} GB whole-image"
        else:
            log(f"peer: MicroAST {size}² whole {prec}")
            row.update(spawn({"kind": "peer", "dir": str(Path(args.peer_microast).resolve()), "size": size,
                              "repeat": args.repeat, "device": str(device), "precision": prec}))
        res["peer"].append(row)
    for p in precisions:
        passes[p].append(floor_pass(shapes, device, p))
    res["floors"] = {p: floor(methods, passes[p]) for p in precisions}
    res["floor"] = res["floors"][precisions[0]]
    probe_floor = {p: max((ps[PROBE]["rate"] for ps, _ in passes[p] if PROBE in ps), default=None)
                   for p in precisions}
    for row in res["runs"]:
        if "seconds" in row:
            prec = row["precision"] if row["precision"] in precisions else precisions[0]
            f, px = res["floors"][prec]["methods"][row["method"]], row["size"] ** 2
            row.update(mp_per_s=px / 1e6 / row["seconds"], flop_px=f["flop_px"],
                       flop_per_s=f["flop_px"] * px / row["seconds"],
                       floor_seconds=f["floor_s_per_mp"] * px / 1e6,
                       ratio=row["seconds"] / (f["floor_s_per_mp"] * px / 1e6))
            # the machine's speed during this run, relative to the floor passes (1 = as fast)
            pf = probe_floor[prec]
            speed = row["probe_rate"] / pf if row.get("probe_rate") and pf else 1.0
            row.update(speed=speed, ratio_now=row["ratio"] * speed, mp_per_s_now=row["mp_per_s"] / speed)


def measure_breakdown(res: dict, args, device, sizes: list[int], folder: str) -> None:
    """The default job (what `python -m core stylize photo.png style.png -o out.png` runs)
    stage by stage at each size, each stage next to its floor, and MicroAST beside it."""
    from core.engine.stylizer import default_method
    method, precision = default_method(), res["precisions"][0]
    res["method"] = method
    shapes = shapes_of([method])
    passes = [floor_pass(shapes, device, precision)]
    style = os.path.join(folder, "style.png")
    spawn({"kind": "input", "size": STYLE_PX, "seed": 1, "flip": True, "path": style})
    res["breakdown"], res["peer"] = [], []
    for size in sizes:
        src = os.path.join(folder, f"photo-{size}.png")
        log(f"input: {size}² PNG")
        spawn({"kind": "input", "size": size, "path": src})
        starts = [spawn_timed({"kind": "start", "backend": args.backends.split(",")[0]}) for _ in range(3)]
        runs, before = [], []
        for i in range(args.repeat):
            # with a baseline, its runs and ours alternate (the machine's load drifts)
            order = ([(args.baseline, before)] if args.baseline else []) + [(None, runs)]
            for tree, into in order if i % 2 == 0 else order[::-1]:
                log(f"breakdown: default job ({method}, {precision}) {size}², run {i + 1} of {args.repeat}"
                    + (f" (baseline {tree})" if tree else ""))
                row = spawn_timed({"kind": "breakdown", "input": src, "style": style, "precision": precision,
                                   "backend": args.backends.split(",")[0], "tree": tree,
                                   "output": os.path.join(folder, f"out-{size}.png")})
                if "stages" in row:
                    row["startup_seconds"] = row["job_started"] - row["spawned"]
                    log(f"     {row['startup_seconds'] + row['job_seconds']:.1f} s whole job, "
                        f"peak RSS {gb(row['peak_rss_bytes'])}")
                into.append(row)
        res["breakdown"].append({"size": size, "runs": runs, "baseline": before,
                                 "bare_start": min(r["wall"] for r in starts if "wall" in r)})
        if args.peer_microast:
            need = PEER_GB_AT_4K * (size / 4096) ** 2
            row = {"name": "MicroAST", "size": size, "mode": "whole", "precision": precision}
            if need > 0.8 * _ram_gb():
                row["skipped"] = f"needs ~{need:.0f} GB whole-image"
            else:
                log(f"peer: MicroAST {size}² whole {precision}")
                row.update(spawn({"kind": "peer", "dir": str(Path(args.peer_microast).resolve()), "size": size,
                                  "repeat": args.repeat, "device": str(device), "precision": precision,
                                  "input": src, "folder": folder}))
            res["peer"].append(row)
        os.remove(src)
    passes.append(floor_pass(shapes, device, precision))
    res["floor"] = floor([method], passes)


def spawn_timed(spec: dict) -> dict:
    """`spawn`, with the wall time from launch to exit and the launch's epoch time."""
    spawned, t0 = time.time(), time.perf_counter()
    row = spawn(spec)
    return dict(row, wall=time.perf_counter() - t0, spawned=spawned)


def breakdown_report(res: dict) -> str:
    method, fl = res["method"], res["floor"]
    rates = {(s["cin"], s["cout"], s["k"], s["scale"]): s["rate"] for s in fl["shapes"]}
    part_s_px = {part: sum(c.flop_px / rates[c.shape] for c in layers)
                 for part, layers in conv_parts(method).items()}
    L = [f"## The default job, stage by stage — {res['device_name']}, torch {res['torch']}, "
         f"{res['threads']} threads, code {res['revision']}", "",
         f"`python -m core stylize photo.png style.png -o out.png`: {method}, {res['precisions'][0]}, "
         f"{TILE}-px tiles, 8-bit PNG in and out; median of {res['repeat']} (each run a fresh process). "
         "`CPU s` is the process's own CPU time in the stage (2 cores busy: about twice the wall). "
         "Floors: the PNG codec alone on the same files (OpenCV), the stage's convolutions at the "
         "rate each shape reaches alone (no halo, nothing else), a bare interpreter importing the "
         "runtime. `others` is how many cores other processes kept busy during the run.", ""]
    peers = {p["size"]: p for p in res.get("peer", [])}
    whole = lambda r: r["startup_seconds"] + r["job_seconds"]  # noqa: E731
    pairs = [(e["size"], [r for r in e["baseline"] if "stages" in r], [r for r in e["runs"] if "stages" in r])
             for e in res["breakdown"] if e.get("baseline")]
    if pairs:
        L += [f"### Before and after, same run, alternating (baseline: {res.get('baseline_revision', '?')})", "",
              "| size | before s | after s | after ÷ before | before peak RSS | after peak RSS | "
              "MicroAST network alone s | MicroAST peak RSS |", "|---|---|---|---|---|---|---|---|"]
        for size, b, a in pairs:
            if not (a and b):
                continue
            mb, ma = statistics.median(map(whole, b)), statistics.median(map(whole, a))
            p = peers.get(size, {})
            L.append(f"| {size_label(size)} | {mb:.1f} | {ma:.1f} | {ma / mb:.2f} | "
                     f"{gb(max(r['peak_rss_bytes'] for r in b))} | {gb(max(r['peak_rss_bytes'] for r in a))} | "
                     + (f"{p['seconds']:.1f} | {gb(p['peak_rss_bytes'])} |" if "seconds" in p else "— | — |"))
        L.append("")
    for entry in res["breakdown"]:
        size, runs = entry["size"], [r for r in entry["runs"] if "stages" in r]
        if not runs:
            L += [f"### {size_label(size)}: failed ({entry['runs'][0].get('error')})", ""]
            continue
        px = size * size
        med = lambda f: statistics.median(f(r) for r in runs)  # noqa: E731
        codec = lambda k: med(lambda r: r["codec"][k])  # noqa: E731
        floors = {STAGES[1][0]: codec("decode_seconds"), STAGES[8][0]: codec("encode_seconds"),
                  STAGES[4][0]: part_s_px["encode"] * px, STAGES[5][0]: part_s_px["statistics"] * px,
                  STAGES[7][0]: part_s_px["decode"] * px, STAGES[6][0]: 0.0,
                  STAGES[3][0]: part_s_px["encode"] * STYLE_PX ** 2}
        others = [r.get("others_cores") for r in runs if r.get("others_cores") is not None]
        L += [f"### {size_label(size)} ({size}×{size}): whole job {med(lambda r: r['startup_seconds'] + r['job_seconds']):.1f} s, "
              f"peak RSS {gb(med(lambda r: r['peak_rss_bytes']))}"
              + (f", others {statistics.median(others):.2f} cores" if others else ""), "",
              "| stage | s | CPU s | floor s | × floor | share |", "|---|---|---|---|---|---|"]
        # until the job returns: the codec floors measured after it, and the exit, are not counted
        total = med(lambda r: r["startup_seconds"] + r["job_seconds"])
        start = med(lambda r: r["startup_seconds"] + r["stages"].get(STAGES[0][0], {}).get("seconds", 0.0))
        L.append(f"| process start-up (interpreter, imports, networks: runtime import, weights) | {start:.2f} | — | "
                 f"{entry['bare_start']:.2f} (a bare interpreter importing the runtime) | "
                 f"{start / entry['bare_start']:.2f}× | {start / total:.0%} |")
        accounted = start
        for label, *_ in STAGES[1:]:
            vals = [r["stages"].get(label) for r in runs]
            if any(v is None for v in vals):
                continue
            w, c = statistics.median(v["seconds"] for v in vals), statistics.median(v["cpu"] for v in vals)
            accounted += w
            f = floors.get(label)
            ratio = f"{w / f:.2f}×" if f else "—"
            L.append(f"| {label} | {w:.2f} | {c:.2f} | {'—' if f is None else f'{f:.2f}'} | {ratio} | {w / total:.0%} |")
        L.append(f"| other (checks, result layout, between stages) | {total - accounted:.2f} | | | | "
                 f"{(total - accounted) / total:.0%} |")
        net_floor = sum(part_s_px.values()) * px
        L.append(f"| **whole job**, launch to result written | **{total:.2f}** | {med(lambda r: r['job_cpu']):.2f} | "
                 f"{net_floor:.2f} (the networks alone) | {total / net_floor:.2f}× | |")
        p = peers.get(size)
        if p is not None:
            if "seconds" in p:
                kind = "published weights" if p.get("trained") else "random weights"
                fs = p.get("file_seconds")
                L += ["", f"MicroAST, same run ({kind}), whole image: network alone **{p['seconds']:.1f} s**"
                      + (f", file to file {fs:.1f} s" if fs else "") + f", peak RSS {gb(p['peak_rss_bytes'])}. "
                      f"Our whole job ÷ its network alone: **{total / p['seconds']:.2f}**; our peak RSS ÷ its: "
                      f"**{med(lambda r: r['peak_rss_bytes']) / p['peak_rss_bytes']:.2f}**."]
            else:
                L += ["", f"MicroAST: not run ({p.get('skipped') or p.get('error')})."]
        L.append("")
    return "\n".join(L)


def _ram_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 16.0


def _revision(root: Path | None = None) -> str:
    """The git commit the numbers belong to, '+dirty' when core/ has uncommitted changes."""
    root = root or Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "core"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        stamp = root / "REVISION"  # an exported tree (git archive) may say which commit it is
        return stamp.read_text().strip() if stamp.is_file() else "unknown"
    return rev + ("+dirty" if dirty else "")


def _cpu_name() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


if __name__ == "__main__":
    sys.exit(main())
