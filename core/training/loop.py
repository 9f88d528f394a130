"""One training loop for every stage: seeded batches, checkpoints, resume, loss logs.

Runs are cut into sessions (a device command lasts at most 10 minutes): a run stops
cleanly after `minutes`, or at SIGTERM / Ctrl-C once the step in flight is done, and the
next one resumes from the checkpoint. Checkpoints are
safetensors (parameters by their table names, Adam's moments beside them, the step in
the metadata): no pickles anywhere. Each step's batch comes from a generator seeded by
(seed, step), so a resumed run draws exactly the batches an unbroken run would.
"""
from __future__ import annotations

import json
import math
import signal
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable

import torch

from ..nets import safetensors_file


def _optimizer_tensors(opt: torch.optim.Optimizer, names: dict) -> tuple[dict, dict]:
    """Adam state as flat tensors keyed by parameter name; scalar steps in metadata."""
    tensors, steps = {}, {}
    index = {id(p): n for n, p in names.items()}
    for p, state in opt.state.items():
        n = index[id(p)]
        for k, v in state.items():
            if k == "step":
                steps[n] = float(v)
            else:
                tensors[f"opt/{n}/{k}"] = v.detach().float().cpu().contiguous()
    return tensors, steps


def save_checkpoint(path: Path, names: dict, opt, step: int, extra: dict | None = None) -> None:
    tensors = {n: p.detach().float().cpu().contiguous() for n, p in names.items()}
    opt_tensors, steps = _optimizer_tensors(opt, names)
    tensors.update(opt_tensors)
    write_safetensors(path, tensors, {"step": str(step), "adam_steps": json.dumps(steps), **(extra or {})})


def write_safetensors(path: Path, tensors: dict, meta: dict | None = None, mode: int | None = None) -> None:
    """Writes a safetensors file (torch tensors or numpy arrays) atomically: a run stopped
    mid-write keeps the previous file, never a truncated one that a later run would load."""
    if all(isinstance(t, torch.Tensor) for t in tensors.values()):
        from safetensors.torch import save_file
    else:
        from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        if mode is not None:
            tmp.chmod(mode)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: Path, names: dict, opt) -> int:
    """Restores parameters and Adam state in place; returns the step reached."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        steps = json.loads(meta.get("adam_steps", "{}"))
        keys = set(f.keys())
        with torch.no_grad():
            for n, p in names.items():
                p.copy_(f.get_tensor(n).to(p.device, p.dtype))
        for n, p in names.items():
            state = {k.rsplit("/", 1)[1]: f.get_tensor(k).to(p.device)
                     for k in keys if k.startswith(f"opt/{n}/")}
            if state and opt is not None:
                state["step"] = torch.tensor(steps.get(n, 0.0))
                opt.state[p] = state
    return int(meta["step"])


WARMUP = 200


def cosine_lr(base: float, step: int, total: int, warmup: int = WARMUP) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(total, 1)))))


def cpu_has_bf16() -> bool:
    """Whether bf16 autocast trains faster than fp32 on this CPU, decided so that other
    work on the machine cannot flip it. AMX (Xeon) runs bf16 matrix tiles in hardware: a
    step ran 2-3x faster in bf16 wherever it was measured, so its flag decides alone. AVX-512
    BF16 without AMX varies (an AMD EPYC ran a step 2-3x faster in bf16; a Xeon ran a
    256-channel conv's forward and backward in 0.73 s in bf16 against 0.53 s in fp32), so
    there both are timed, interleaved (`_bf16_speedup`): a load that comes and goes slows
    the pairs' two halves alike."""
    global _BF16_FASTER
    if _BF16_FASTER is None:
        flags = _cpu_flags()
        if "amx_bf16" in flags:
            _BF16_FASTER = True
        else:
            _BF16_FASTER = "avx512_bf16" in flags and _bf16_speedup() > 1.2
    return _BF16_FASTER


_BF16_FASTER: bool | None = None


def _cpu_flags() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return []


def _bf16_speedup(pairs: int = 8) -> float:
    """fp32 time / bf16 time of a conv layer's forward and backward at training sizes: each
    precision's fastest of `pairs` runs, the two interleaved (in alternating order), after
    one warm-up of each (about 4 s in all). The fastest run is the one least disturbed by
    other work; a median of ratios still swung from 0.95 to 1.9 on a 2-core EPYC at load 4.5,
    where this measure kept to 1.5-2.5."""
    gen = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.randn(4, 256, 32, 32, generator=gen).to(memory_format=torch.channels_last)

    def seconds(bf16: bool) -> float:
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = conv(x).float().square().mean()
        y.backward()
        return time.perf_counter() - t0

    seconds(False), seconds(True)
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(pairs):
        for bf16 in ((False, True) if i % 2 == 0 else (True, False)):
            times[bf16].append(seconds(bf16))
    return min(times[False]) / min(times[True])


def autocast(device):
    """bf16 autocast on CUDA and on CPUs where it measures faster; fp32 elsewhere."""
    kind = torch.device(device).type if device is not None else "cpu"
    if kind == "cuda" or (kind == "cpu" and cpu_has_bf16()):
        return torch.autocast(kind, dtype=torch.bfloat16)
    return nullcontext()


def _forget_logged_after(log: Path, step: int) -> None:
    """Drops the log rows past `step`: a run killed before its next checkpoint logged
    steps that the resumed run takes (and logs) again, so the curve would show them twice."""
    if not log.exists():
        return
    lines = log.read_text().splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line)["step"] <= step]
    if len(kept) < len(lines):
        tmp = log.with_suffix(".tmp")
        tmp.write_text("".join(kept))
        tmp.replace(log)


@contextmanager
def stop_requests():
    """A flag that SIGTERM or Ctrl-C sets instead of killing the run, so that stopping a
    background run (`kill PID`) keeps its last steps: the loop ends and checkpoints.
    Outside the main thread (where handlers cannot be installed) the flag stays unset."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(stage: str, names: dict, step_fn: Callable[[torch.Generator, int], dict],
        *, out_dir: Path, total: int, lr: float, seed: int, minutes: float,
        checkpoint_minutes: float = 3.0, log_every: int = 20, device=None,
        lr_scales: dict[str, float] | None = None, start: int = 0) -> int:
    """Train `names` (parameters by table name) until `total` steps or `minutes` pass.

    `step_fn(generator, step)` returns a dict of scalar losses whose "loss" entry is
    minimised. `lr_scales` multiplies some parameters' learning rates (by name). Without a
    checkpoint the count begins at `start` (the step of weights the caller loaded), with
    the warm-up repeated from there: Adam's state is new.
    Returns the step reached; the checkpoint then holds it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt, log = out_dir / f"{stage}.ckpt.safetensors", out_dir / f"{stage}.log.jsonl"
    scales = lr_scales or {}
    groups: dict[float, list] = {}
    for n, p in names.items():
        groups.setdefault(scales.get(n, 1.0), []).append(p)
    opt = torch.optim.Adam([{"params": ps, "scale": k} for k, ps in groups.items()], lr=lr)
    resumed = ckpt.exists()
    step = load_checkpoint(ckpt, names, opt) if resumed else start
    meta = safetensors_file.metadata(ckpt) if resumed else {}
    if resumed:
        _forget_logged_after(log, step)
    # A run continuing shipped weights repeats the warm-up from their step; the checkpoint
    # remembers that step, so a resume in mid warm-up does not jump to the full rate.
    first = int(meta.get("warm_from", step)) if resumed else step
    rewarm = "warm_from" in meta if resumed else step > 0
    extra = {"warm_from": str(first)} if rewarm else None
    if step:
        print(f"{stage}: {'resuming' if resumed else 'continuing shipped weights'} at step {step}", flush=True)
    t0 = last_save = time.monotonic()
    amp = autocast(device)
    sums: dict = {}
    logged = step
    with stop_requests() as stop:
        while step < total and time.monotonic() - t0 < minutes * 60 and not stop.is_set():
            now = cosine_lr(lr, step, total) * (min(1.0, (step - first + 1) / WARMUP) if rewarm else 1.0)
            for group in opt.param_groups:
                group["lr"] = now * group["scale"]
            g = torch.Generator().manual_seed(seed * 1_000_003 + step)
            with amp:
                losses = step_fn(g, step)
            opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
            opt.step()
            step += 1
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            if step % log_every == 0 or step == total:
                row = {"step": step, "seconds": round(time.monotonic() - t0, 1),
                       "lr": now, **{k: v / (step - logged) for k, v in sums.items()}}
                sums, logged = {}, step
                with open(log, "a") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"{stage} {step}/{total} " + " ".join(f"{k}={v:.4g}" for k, v in row.items()
                                                            if k not in ("step",)), flush=True)
            if time.monotonic() - last_save > checkpoint_minutes * 60:
                save_checkpoint(ckpt, names, opt, step, extra)
                last_save = time.monotonic()
    save_checkpoint(ckpt, names, opt, step, extra)
    return step
