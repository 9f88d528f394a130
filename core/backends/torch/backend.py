"""The PyTorch backend: runs named network parts on numpy arrays (CPU or CUDA).

The orchestration (tiles, statistics, blending) speaks numpy so that it does not need
torch; this class is the only place a tile becomes a tensor. Networks are built lazily,
once per (part, wrap mode), and kept.

Four things keep an accelerator busy rather than waiting on the host:
* `submit` queues a batch of tiles (pinned host memory, asynchronous copies both ways)
  and returns at once; the engine collects a batch's result only after queueing the
  next, so the device computes while the host reads and blends tiles.
* On CUDA the image and the feature map stay on the device from encoding to decoding
  (`resident_array`; the statistics are summed there and fetched once): only the image
  goes over, once, and the 3-channel picture comes back.
* The per-position affine transform (Linear, WCT) is folded into the decoder's first
  convolution (`affine=`): no 256/512-channel matrix product on the host, and on a CPU
  one pass over the feature tile fewer.
* `precision` fp16 (CUDA's default) or bf16 runs copies of the networks in that type
  (`precision.lower`: fp32 accumulation; the convolutions that touch the 3-channel picture at
  fp32 accuracy on split operands; a folded decoder's input centred in fp32 first). fp32
  is a CPU's default where bf16 is not faster; where it is (AMX, or AVX-512 BF16 that
  measures faster: `cpu_bf16_faster`) `auto` takes bf16 (about 2× a whole job with AMX,
  1.7× on an AMD EPYC). The differences from fp32 are measured in tests/test_engine.py and
  docs/PERFORMANCE.md.

On a CPU shared with other work, two tiles are in flight at once (`lanes`), each on half
the cores: where all threads on one tile meet at a barrier after every operation (a
convolution, a pool, a copy), every descheduled thread stalls the others. Idle, one tile
on all cores is as fast or faster, so the lanes are used only while tiles get less of
the CPU than they ask for (`_shared`). Results are bit-identical either way.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ...backends.base import PRECISIONS, Backend
from ...backends.torch import nets
from ...backends.torch.precision import lower
from ...errors import SettingError
from ...mem.buffers import as_float32
from ...nets.architecture import Net

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
RESIDENT_SHARE = 0.25  # of the device's free memory a resident array may take: the rest is for activations
LANES = 2  # tiles a CPU computes at once (each on its share of the cores), where it has two cores or more
SHARED = 0.75    # a tile that got less than this share of the cores it ran on: the CPU is shared
PROBE_EVERY = 8  # tiles sent to the lanes before the CPU is looked at again


def _cpu_seconds() -> float:
    """This process's CPU time (all threads), user and system."""
    return time.process_time()


def _cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float16 <-> float32 with torch's vectorised conversion (`Backend.cast`)."""
    return torch.from_numpy(x).to(torch.float16 if dtype == np.float16 else torch.float32).numpy()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SettingError("device", "cuda", "no CUDA device is available to PyTorch here")
    return torch.device(name)


def pick_precision(name: str, device: torch.device) -> str:
    """auto: fp16 on CUDA (tensor cores); on a CPU, bf16 where it runs faster than fp32
    (`cpu_bf16_faster`), else fp32. fp16 rather than bf16 on CUDA: over the validation
    split fp16 stays within 0.5/255 of fp32, bf16 reaches 3-5/255 at its worst pixel (8-bit
    mantissa). On a CPU that is the choice: bf16 moves a painting by a mean of 0.24/255
    (ccpl-r31, 24 validation pairs), thirty times less than fp32 itself moves when the
    photo moves by one pixel (7.0/255: the encoder's pooling grid lands elsewhere), and a
    job runs about 1.7× faster (docs/PERFORMANCE.md). WCT keeps fp32 (`method_precision`)."""
    if name not in PRECISIONS:
        raise SettingError("precision", name, f"choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        if device.type == "cuda":
            return "fp16"
        return "bf16" if device.type == "cpu" and cpu_bf16_faster() else "fp32"
    return name


_BF16_FASTER: list = []  # decided once per process


def cpu_bf16_faster() -> bool:
    """Whether this CPU runs the networks faster in bf16 than in fp32. AMX (recent Xeons)
    multiplies bf16 tiles in hardware: faster wherever measured (a whole job about 2×), so
    its flag decides. AVX-512 BF16 alone (AMD Zen 4, some Xeons) varies by chip, so there
    a 64-channel convolution is timed both ways, interleaved, the fastest of each (about
    0.2 s, once per process): bf16 must be 1.2× faster. Without either flag bf16 is
    emulated and slower: fp32. BRUSHWORK_CPU_BF16=0/1 overrides (tests, reproducible runs)."""
    if not _BF16_FASTER:
        forced = os.environ.get("BRUSHWORK_CPU_BF16")
        if forced in ("0", "1"):
            _BF16_FASTER.append(forced == "1")
        else:
            flags = _cpu_flags()
            _BF16_FASTER.append("amx_bf16" in flags or ("avx512_bf16" in flags and _bf16_speedup() > 1.2))
    return _BF16_FASTER[0]


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _bf16_speedup(pairs: int = 4) -> float:
    """fp32 time ÷ bf16 time of a 64→64 3×3 convolution on a 192² map (the networks'
    commonest shape), each precision's fastest of `pairs`, in alternating order."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 64, 192, 192, generator=gen).contiguous(memory_format=torch.channels_last)
    w = (torch.rand(64, 64, 3, 3, generator=gen) - 0.5).contiguous(memory_format=torch.channels_last)
    b = torch.zeros(64)
    args = {False: (x, w, b), True: (x.bfloat16(), w.bfloat16(), b.bfloat16())}

    def seconds(bf16: bool) -> float:
        t0 = time.perf_counter()
        nets.conv_relu(*args[bf16], 1, True)
        return time.perf_counter() - t0

    times: dict = {False: [], True: []}
    with torch.inference_mode():
        seconds(False), seconds(True)
        for i in range(pairs):
            for bf16 in ((False, True) if i % 2 == 0 else (True, False)):
                times[bf16].append(seconds(bf16))
    return min(times[False]) / min(times[True])


class TorchBackend(Backend):
    """`run(net, x, wrap, affine)`: `net` is a `Net` (core/nets/architecture.py).

    Arrays are channels-last, (H, W, C) or (N, H, W, C), like images and like torch's
    channels_last layout: crossing between numpy and torch is then a view, not a copy."""
    name = "torch"

    def __init__(self, weights: dict[str, dict[str, np.ndarray]], device: str = "auto",
                 precision: str = "auto"):
        self.weights = weights
        self.device = pick_device(device)
        self.precision = pick_precision(precision, self.device)
        self.batch = 4 if self.device.type == "cuda" else 1  # tiles per call
        # Feature maps on the device between encoding and decoding (`resident_array`): on
        # CUDA a 4K relu4_1 map would otherwise cross PCIe twice, 537 MB each way. On a
        # CPU host and device are one memory; tests switch it on there to check the path.
        self.resident = self.device.type == "cuda"
        self._nets: dict = {}
        self._folded: tuple | None = None  # (net, wrap, affine, module): the last fold, reused
        # Tiles in flight at once: on a CPU with two cores or more, `LANES`, each on its share.
        self.lanes = LANES if self.device.type == "cpu" and torch.get_num_threads() >= LANES else 1
        self._workers: ThreadPoolExecutor | None = None
        self._lane_calls = 0      # background batches still to go to the lanes (`_shared`)
        self._outstanding: list = []  # lane jobs handed out since the last look

    def cast(self, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return _cast(x, dtype)  # float16 features: torch's conversion, not NumPy's scalar one

    def _net(self, net: Net, wrap: str):
        key = (net, wrap)
        if key not in self._nets:
            if net.preprocess:
                module = nets.encoder(net.part, self.weights[net.key], wrap)
            else:
                module = nets.build(net.part, self.weights[net.key], wrap)
            self._nets[key] = module.to(self.device, memory_format=torch.channels_last)
        return self._nets[key]

    def _lowered(self, net: Net, wrap: str):
        """The net as it runs at this backend's precision (`_net` keeps float32 weights,
        which the affine fold starts from)."""
        key = (net, wrap, self.precision)
        if key not in self._nets:
            self._nets[key] = self._lower(self._net(net, wrap))
        return self._nets[key]

    def _lower(self, module, centre=None):
        if self.precision != "fp32":
            module = lower(module, _DTYPES[self.precision], centre)
        return module.to(self.device, memory_format=torch.channels_last)

    def _with_affine(self, net: Net, wrap: str, affine):
        """The net with f ↦ f Mᵀ + v applied to its input channels first, folded into its
        first convolution (exact: a per-position map commutes with reflect/circular
        padding), or None where the first layer cannot take it."""
        cached = self._folded
        if cached is not None and cached[:2] == (net, wrap) and cached[2] is affine:
            return cached[3]
        module = self._net(net, wrap)
        first = module[0]
        if not isinstance(first, nets.PadConv) or first.mode_x == "constant" or first.mode_y == "constant":
            return None
        mt, v, *centre = (torch.as_tensor(a, dtype=torch.float64) for a in affine)
        centre = centre[0] if centre and self.precision != "fp32" else None
        if centre is not None:  # f Mᵀ + v = (f − c) Mᵀ + (c Mᵀ + v): the lowered net centres f
            v = v + centre @ mt
        w = first.conv.weight.detach().to("cpu", torch.float64)  # (C_out, C, 3, 3)
        weight = torch.einsum("ojhw,ij->oihw", w, mt)
        bias = first.conv.bias.detach().to("cpu", torch.float64) + torch.einsum("ojhw,j->o", w, v)
        folded = torch.nn.Sequential(first.with_weights(weight.float(), bias.float()), *module[1:])
        folded = self._lower(folded, centre)
        self._folded = (net, wrap, affine, folded)
        return folded

    def _module(self, net: Net, wrap: str, affine):
        """What runs a batch: the lowered net, with the affine folded in where it can be;
        else (module, (Mᵀ, v)) for the product on the device first."""
        if affine is None:
            return self._lowered(net, wrap)
        module = self._with_affine(net, wrap, affine)
        return module if module is not None else (self._lowered(net, wrap), affine[:2])

    def _call(self, module, t: torch.Tensor) -> torch.Tensor:
        """(N, H, W, C) float32 on the device → (N, H, W, C') float32 on the device."""
        t = t.permute(0, 3, 1, 2)  # NCHW view, channels_last strides
        if isinstance(module, tuple):  # cannot fold: the product on the device
            module, affine = module
            mt, v = (torch.as_tensor(a, dtype=torch.float32, device=t.device) for a in affine)
            t = torch.einsum("nchw,cd->ndhw", t, mt) + v[:, None, None]
        return module(t).permute(0, 2, 3, 1).float()

    def resident_array(self, shape: tuple, half: bool) -> torch.Tensor | None:
        """A zeroed (H, W, C) array on the device for a feature map or an image, where this
        backend keeps them there (`resident`) and it fits; else None (the engine then
        uses host memory). `half`: float16 storage where the networks run below fp32.

        Made outside inference mode: the engine writes tiles into it afterwards."""
        if not self.resident:
            return None
        dtype = torch.float16 if half and self.precision != "fp32" else torch.float32
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            cached = torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)
            if nbytes > RESIDENT_SHARE * (free + cached):
                return None
        return torch.zeros(shape, dtype=dtype, device=self.device)

    def _lanes(self) -> ThreadPoolExecutor:
        """The CPU's tile threads, made once: `lanes` of them, each running torch on
        its share of this process's intra-op threads (a per-thread setting)."""
        if self._workers is None:
            threads = torch.get_num_threads()
            share = max(1, threads // self.lanes)
            ready = threading.Barrier(self.lanes)

            def start(_):
                torch.set_num_threads(share)
                ready.wait()
            self._workers = ThreadPoolExecutor(self.lanes, thread_name_prefix="brushwork-tile")
            list(self._workers.map(start, range(self.lanes)))  # every lane made and set up
            torch.set_num_threads(threads)  # this thread's own, and the default of later ones, as they were
        return self._workers

    @torch.inference_mode()
    def _compute(self, module, x, batched: bool, on_device: bool, host: bool):
        """One batch through `module` (already resolved), as `submit` describes."""
        if on_device:
            t = x.to(self.device, torch.float32)
        else:
            t = torch.from_numpy(as_float32(x))
            if self.device.type == "cuda":
                t = t.pin_memory().to(self.device, non_blocking=True)
        y = self._call(module, t if batched else t[None])
        y = y if batched else y[0]
        if not host:
            return lambda: y
        if self.device.type != "cuda":
            out = y.contiguous().numpy()
            return lambda: out
        pinned = torch.empty(y.shape, dtype=torch.float32, pin_memory=True)
        pinned.copy_(y, non_blocking=True)
        done = torch.cuda.Event()
        done.record()

        def result() -> np.ndarray:
            done.synchronize()
            return pinned.numpy()
        return result

    def submit(self, net: Net, x, wrap: str = "none", affine=None, host: bool | None = None,
               background: bool = False):
        """Queue `run` and return a function that waits for and returns its result.

        `x`: a NumPy array, or a tensor on the device (a `resident_array` or a result).
        The result is of the same kind unless `host` says otherwise (True: NumPy). On
        CUDA the copies are asynchronous (pinned host memory) and the wait is an event
        for this batch alone. On a CPU with `background` (a caller that keeps more
        batches queued, as the engine's tile loop does), the batch runs on one of the
        `lanes` while the caller goes on; else the work is done before returning."""
        on_device = isinstance(x, torch.Tensor)
        host = not on_device if host is None else host
        module = self._module(net, wrap, affine)  # built here, once, not raced for by the lanes
        if background and self.lanes > 1 and not on_device and self._shared():
            job = self._lanes().submit(self._compute, module, x, x.ndim == 4, on_device, host)
            self._outstanding.append(job)
            return lambda: job.result()()
        t0, c0 = time.perf_counter(), _cpu_seconds()
        out = self._compute(module, x, x.ndim == 4, on_device, host)
        if background and self.lanes > 1 and not on_device:
            self._note(time.perf_counter() - t0, _cpu_seconds() - c0)
        return out

    def _shared(self) -> bool:
        """Whether the next background batch goes to the lanes: only while other work
        shares the CPU. Idle, one tile on every core was as fast or faster (a 4K job
        49.9 s against 54.5 s in lanes; 2K 15.0 against 15.4 s); shared, the lanes were
        1.4-1.6× faster. So tiles run on all threads, each timed, and when one got less
        than `SHARED` of the cores it asked for, the next `PROBE_EVERY` go to the lanes;
        then one runs on all threads again (after the lanes drain) to look."""
        if self._lane_calls > 0:
            self._lane_calls -= 1
            return True
        while self._outstanding:  # a clean look: nothing else of ours running
            self._outstanding.pop().result()
        return False

    def _note(self, wall: float, cpu: float) -> None:
        """A background batch ran on all threads: if it got too little of the CPU, the
        next ones go to the lanes."""
        if wall > 0.05 and cpu < SHARED * torch.get_num_threads() * wall:
            self._lane_calls = PROBE_EVERY

    def run(self, net: Net, x, wrap: str = "none", affine=None, host: bool | None = None):
        """(H, W, C) or (N, H, W, C) float32 in → same rank out. `affine` = (Mᵀ, v): the
        input's channels are mapped f ↦ f Mᵀ + v first (the engine's transform)."""
        return self.submit(net, x, wrap, affine, host)()
