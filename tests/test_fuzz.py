"""Every entry point, tried as a hostile user would: random option values and randomly
damaged files for `stylize`, `frames`, `panorama`, `video`, `join` and the worker.

The property, for every generated case: exit 0 with a sane result (readable, the right
size, finite, not blank), or exit 2 with exactly one `brushwork: error:` line (warnings
before it allowed); never a traceback, never a changed input (hashed before and after),
never a leftover in the output folder (no temp file, no half movie), never a replaced file
(a file already at the output path stays byte for byte unless --overwrite was given).

A seeded generator of our own (no extra dependency): a failure names its seed and case,
so `BRUSHWORK_FUZZ_SEED=<seed>` replays it. CI runs a small share of cases (under two
minutes on a slow machine); `BRUSHWORK_FUZZ=long` runs ten times as many. Each test
collects every failing case before asserting, so one run reports all the kinds it found.
Most runs call `core.app.cli.main` in-process; a few real processes catch what only a
real process shows (a traceback printed by the interpreter, a library's own stderr).
"""
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from core.app import cli, worker
from core.media import video
from core.media.image_io import read_image, write_render_passes
from imaging import photo, save

ROOT = Path(__file__).resolve().parents[1]
LONG = os.environ.get("BRUSHWORK_FUZZ", "") == "long"
SEED = int(os.environ.get("BRUSHWORK_FUZZ_SEED", "22"))
SCALE = 10 if LONG else 1
FAST = ["--method", "wct-r31", "--allow-untrained", "--quiet"]
H, W = 48, 96  # 2:1, so the same content serves as an equirect panorama

# Option values a hostile or careless user types: non-finite, negative, huge, tiny, not numbers.
VALUES = ["nan", "NaN", "inf", "-inf", "1e999", "-1", "-0", "0", "1e308", "-1e308", "1e-320",
          "99999999999999999999", "abc", "", "1,5", "0x10", "0.5", "2", "3", "30", "0.125", "7.5"]


# --------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, style):
    """Valid small inputs, one of each kind; cases copy and damage them."""
    d = tmp_path_factory.mktemp("fuzz-inputs")
    pic = photo(H, W, seed=1)
    files = {"png": save(d / "content.png", pic), "jpg": save(d / "content.jpg", pic),
             "exr": save(d / "content.exr", pic ** 2.2, np.float32, linear=True), "style": style}
    depth = np.tile(np.linspace(1, 9, W, dtype=np.float32), (H, 1))
    write_render_passes(str(d / "depth.exr"), {"Depth": depth})
    files["depth"] = str(d / "depth.exr")
    frames = d / "frames"
    frames.mkdir()
    for i in range(3):
        save(frames / f"f_{i + 1:03d}.png", photo(H, W, seed=10 + i))
    files["frames"] = str(frames)
    movie = d / "movie.mp4"
    video.write_mp4(sorted(frames.iterdir()) * 2, str(movie), fps=6)
    files["mp4"] = str(movie)
    return files


def corrupt(data: bytes, rng: np.random.Generator, kind: str, fmt: str) -> bytes:
    """`data` damaged one way: cut short, bits flipped (half the time in the header), a
    run of zeros, garbage appended, or a header that lies about the content."""
    n = len(data)
    if kind == "truncate":
        return data[:int(rng.integers(0, n))]
    if kind == "flip":
        b = bytearray(data)
        span = min(n, 256) if rng.random() < 0.5 else n
        for _ in range(int(rng.integers(1, 9))):
            b[int(rng.integers(0, span))] ^= 1 << int(rng.integers(0, 8))
        return bytes(b)
    if kind == "zeros":
        a = int(rng.integers(0, n))
        return data[:a] + bytes(min(n - a, int(rng.integers(1, 512)))) + data[a + 512:]
    if kind == "tail":
        return data + rng.bytes(int(rng.integers(1, 4096)))
    return _lie(data, rng, fmt)


LIES = [0, 1, 3, 65535, 2 ** 31 - 1, 2 ** 32 - 1]


def _lie(data: bytes, rng, fmt: str) -> bytes:
    """The header's sizes replaced by a random lie (PNG with a valid CRC half the time)."""
    b = bytearray(data)
    lie = LIES[int(rng.integers(0, len(LIES)))]
    if fmt == "png":
        at = 16 + 4 * int(rng.integers(0, 2))          # IHDR width or height
        b[at:at + 4] = struct.pack(">I", lie)
        if rng.random() < 0.5:
            b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])))
    elif fmt == "jpg":
        sof = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"))
        at = sof + 5 + 2 * int(rng.integers(0, 2))     # height or width
        b[at:at + 2] = struct.pack(">H", lie & 0xFFFF)
    elif fmt == "exr":
        at = data.find(b"dataWindow\x00box2i\x00") + len(b"dataWindow\x00box2i\x00") + 4
        at += 4 * int(rng.integers(0, 4))               # xMin, yMin, xMax or yMax
        b[at:at + 4] = struct.pack("<i", lie if lie < 2 ** 31 else -lie % 2 ** 31)
    else:  # mp4: the size field of one of its boxes
        boxes = [i - 4 for kind in (b"moov", b"mdat", b"trak", b"stsd", b"stco", b"mdia", b"avc1")
                 if (i := data.find(kind)) >= 4]
        at = boxes[int(rng.integers(0, len(boxes)))]
        b[at:at + 4] = struct.pack(">I", lie)
    return bytes(b)


KINDS = ["truncate", "flip", "zeros", "tail", "lie"]


# --------------------------------------------------------------------------- the property


def _tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path → sha256), folders as ''."""
    out = {}
    for p in sorted(folder.rglob("*")):
        out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
    return out


class Case:
    """One generated run: its arguments, its folders, what it should write on success."""

    def __init__(self, name: str, work: Path, argv: list[str], outputs: list[str], overwrite=False):
        self.name, self.work, self.argv, self.outputs, self.overwrite = name, work, argv, outputs, overwrite
        self.inp, self.out = work / "in", work / "out"
        self.inputs_before = _tree(self.inp)
        self.out_before = _tree(self.out)

    def problems(self, rc, err: str) -> list[str]:
        """What this run broke of the promise (empty: it held)."""
        found = []
        lines = err.splitlines()
        if "Traceback" in err:
            found.append("traceback")
        if rc not in (0, 2):
            found.append(f"exit {rc}")
        if rc == 2:
            errors = [ln for ln in lines if ln.startswith("brushwork: error:")]
            if len(errors) != 1 or lines[-1] != errors[0]:
                found.append("not exactly one error line, last")
        noise = [ln for ln in lines if not ln.startswith(("brushwork: warning:", "brushwork: error:"))]
        if noise and "Traceback" not in err:
            found.append(f"noise on stderr ({noise[0][:80]!r})")
        if _tree(self.inp) != self.inputs_before:
            found.append("input changed")
        after = _tree(self.out)
        for name, digest in self.out_before.items():
            if after.get(name) != digest and not (self.overwrite and name in self.outputs):
                found.append(f"replaced {name}" if name in after else f"removed {name}")
        new = sorted(set(after) - set(self.out_before))
        if rc == 0:
            extra = [n for n in new if not any(n == o or n.startswith(o + os.sep) for o in self.outputs)]
            if extra:
                found.append(f"leftover {', '.join(extra)}")
            for o in self.outputs:
                found += _insane(self.out / o)
        elif new:
            found.append(f"leftover {', '.join(new)}")
        return found


def _insane(path: Path) -> list[str]:
    """Why a result is not a sane picture (empty: it is one)."""
    if not path.exists():
        return [f"no output {path.name}"]
    if path.is_dir():
        return [p for f in sorted(path.iterdir()) for p in _insane(f)]
    if path.suffix == ".mp4":
        try:
            src = video.probe(str(path))
            frame = video.movie_frame(src, 0.0)
        except Exception as e:  # noqa: BLE001 - any failure to read back is the finding
            return [f"unreadable movie {path.name} ({type(e).__name__})"]
        return [] if frame is not None and frame.std() > 1 else [f"blank movie {path.name}"]
    try:
        pixels = read_image(str(path)).pixels
    except Exception as e:  # noqa: BLE001
        return [f"unreadable result {path.name} ({type(e).__name__})"]
    if not np.isfinite(pixels).all():
        return [f"non-finite pixels in {path.name}"]
    if pixels[..., :3].std() < 1e-3:
        return [f"blank result {path.name}"]
    return []


def cli_run(capfd, argv: list[str]) -> tuple[int, str]:
    """core.app.cli.main in-process; an exception escaping it is printed as a traceback."""
    import traceback
    try:
        rc = cli.main(argv)
    except SystemExit as e:
        rc = e.code
    except BaseException:  # noqa: BLE001 - what a real process would print
        traceback.print_exc()
        rc = 1
    _, err = capfd.readouterr()
    return rc, err


class Tally:
    """Cases run and what failed, reported all at once at the end of a test."""

    def __init__(self, command: str):
        self.command, self.cases, self.failures = command, 0, []

    def check(self, case: Case, rc, err: str) -> None:
        self.cases += 1
        problems = case.problems(rc, err)
        if problems:
            last = (err.strip().splitlines() or ["(no stderr)"])[-1][:200]
            self.failures.append(f"{case.name}: {'; '.join(problems)} | rc {rc} | {last}")

    def done(self) -> None:
        print(f"\nfuzz {self.command}: {self.cases} cases, {len(self.failures)} failed (seed {SEED})")
        kinds: dict[str, int] = {}
        for f in self.failures:
            for p in f.split(": ", 1)[1].split(" | ")[0].split("; "):
                kinds[p.split(" ")[0]] = kinds.get(p.split(" ")[0], 0) + 1
        print(f"  failure kinds: {kinds}")
        assert not self.failures, "\n".join(self.failures)


def cases(tmp_path: Path, stream: int, count: int):
    """(i, rng, case folder, its inputs folder, its output folder) for `count` × SCALE cases;
    `stream` gives each command its own random sequence from SEED."""
    rng = np.random.default_rng(SEED + stream)
    for i in range(count * SCALE):
        work = tmp_path / f"case{i}"
        (work / "in").mkdir(parents=True)
        (work / "out").mkdir()
        yield i, rng, work, work / "in", work / "out"


def place(src: str, folder: Path, name: str | None = None, damage=None) -> str:
    """A copy of `src` in `folder` (a folder copied whole), damaged by `damage(bytes)` if given."""
    dst = folder / (name or Path(src).name)
    if Path(src).is_dir():
        shutil.copytree(src, dst)
    elif damage is None:
        shutil.copyfile(src, dst)
    else:
        dst.write_bytes(damage(Path(src).read_bytes()))
    return str(dst)


def options(rng, table: dict[str, list[str]], count: int) -> tuple[list[str], list[str]]:
    """`count` random options of `table` (flag → extra flags it needs) with random values."""
    chosen = rng.choice(list(table), size=count, replace=False)
    argv, names = [], []
    for flag in chosen:
        value = VALUES[int(rng.integers(0, len(VALUES)))]
        argv += [f"{flag}={value}", *table[flag]]
        names.append(f"{flag}={value!r}")
    return argv, names


ENGINE = {"--strength": [], "--style-scale": [], "--tile": [], "--style-weights": []}


# --------------------------------------------------------------------------- the commands


def test_fuzz_stylize(capfd, inputs, tmp_path):
    tally = Tally("stylize")
    table = {**ENGINE, "--focus": [], "--falloff": [], "--far-scale": []}
    for i, rng, work, inp, out in cases(tmp_path, 0, 24):
        style = place(inputs["style"], inp)
        fmt = ["png", "jpg", "exr"][i % 3]
        ext = [".png", ".jpg", ".exr", ".tif"][int(rng.integers(0, 4))]
        overwrite = False
        if i % 2:   # a damaged content file, valid options
            kind = KINDS[int(rng.integers(0, len(KINDS)))]
            content = place(inputs[fmt], inp, damage=lambda b: corrupt(b, rng, kind, fmt))
            argv, name = [], f"{kind} {fmt}"
        else:       # a valid file, random option values
            content = place(inputs[fmt], inp)
            argv, names = options(rng, table, int(rng.integers(1, 3)))
            if any(n.startswith(("--focus", "--falloff", "--far-scale")) for n in names):
                argv += ["--depth", place(inputs["depth"], inp)]
            name = " ".join(names)
            if rng.random() < 0.25:   # something already at the output path
                (out / f"result{ext}").write_bytes(b"precious")
                overwrite = rng.random() < 0.5
                argv += ["--overwrite"] if overwrite else []
                name += " over an existing file" + (" --overwrite" if overwrite else "")
        case = Case(f"stylize {fmt}→{ext} {name}", work, ["stylize", content, style, "-o",
                    str(out / f"result{ext}"), *FAST, *argv], [f"result{ext}"], overwrite)
        tally.check(case, *cli_run(capfd, case.argv))
    tally.done()


def test_fuzz_panorama(capfd, inputs, tmp_path):
    tally = Tally("panorama")
    for i, rng, work, inp, out in cases(tmp_path, 1, 8):
        style = place(inputs["style"], inp)
        ext = [".jpg", ".png", ".mp4"][i % 3]
        fmt = ["png", "jpg", "exr"][int(rng.integers(0, 3))]
        argv, overwrite = ["--no-poles"], False
        if i % 2:
            kind = KINDS[int(rng.integers(0, len(KINDS)))]
            content = place(inputs[fmt], inp, damage=lambda b: corrupt(b, rng, kind, fmt))
            name = f"{kind} {fmt}"
        else:
            content = place(inputs[fmt], inp)
            opts, names = options(rng, ENGINE, 1)
            argv += opts
            name = " ".join(names)
            if rng.random() < 0.5:
                (out / f"pano{ext}").write_bytes(b"precious")
                name += " over an existing file"
        case = Case(f"panorama {fmt}→{ext} {name}", work, ["panorama", content, style, "-o",
                    str(out / f"pano{ext}"), *FAST, *argv], [f"pano{ext}"], overwrite)
        tally.check(case, *cli_run(capfd, case.argv))
    tally.done()


def _damaged_frames(inputs, inp: Path, rng, i: int) -> tuple[str, str]:
    """The frames folder, one frame damaged on odd cases."""
    frames = place(inputs["frames"], inp)
    if not i % 2:
        return frames, ""
    kind = KINDS[int(rng.integers(0, len(KINDS)))]
    victim = sorted(Path(frames).iterdir())[int(rng.integers(0, 3))]
    victim.write_bytes(corrupt(victim.read_bytes(), rng, kind, "png"))
    return frames, f"{kind} {victim.name}"


def test_fuzz_frames(capfd, inputs, tmp_path):
    tally = Tally("frames")
    table = {"--fps": ["--video"], "--coherence": [], "--strength": [], "--tile": []}
    for i, rng, work, inp, out in cases(tmp_path, 2, 8):
        style = place(inputs["style"], inp)
        frames, name = _damaged_frames(inputs, inp, rng, i)
        argv, outputs = [], ["styled"]
        if not i % 2:
            argv, names = options(rng, table, 1)
            name = " ".join(names)
        if "--video" in argv or rng.random() < 0.3:
            argv = [a for a in argv if a != "--video"] + ["--video", str(out / "movie.mp4")]
            outputs.append("movie.mp4")
            if rng.random() < 0.5:
                (out / "movie.mp4").write_bytes(b"precious")
                name += " over an existing movie"
        case = Case(f"frames {name}", work, ["frames", frames, style, "-o", str(out / "styled"), *FAST, *argv],
                    outputs)
        tally.check(case, *cli_run(capfd, case.argv))
    tally.done()


def test_fuzz_join(capfd, inputs, tmp_path):
    tally = Tally("join")
    for i, rng, work, inp, out in cases(tmp_path, 3, 12):
        frames, name = _damaged_frames(inputs, inp, rng, i)
        argv = []
        if not i % 2:
            argv, names = options(rng, {"--fps": []}, 1)
            name = " ".join(names)
        if rng.random() < 0.3:
            (out / "joined.mp4").write_bytes(b"precious")
            name += " over an existing movie"
        case = Case(f"join {name}", work, ["join", frames, "-o", str(out / "joined.mp4"), "--quiet", *argv],
                    ["joined.mp4"])
        tally.check(case, *cli_run(capfd, case.argv))
    tally.done()


def test_fuzz_video(capfd, inputs, tmp_path):
    tally = Tally("video")
    table = {"--start": [], "--end": [], "--strength": []}
    for i, rng, work, inp, out in cases(tmp_path, 4, 8):
        style = place(inputs["style"], inp)
        argv = ["--coherence", "none"] if i % 4 == 0 else []
        if i % 2:
            kind = KINDS[int(rng.integers(0, len(KINDS)))]
            movie = place(inputs["mp4"], inp, damage=lambda b: corrupt(b, rng, kind, "mp4"))
            name = f"{kind} mp4"
        else:
            movie = place(inputs["mp4"], inp)
            opts, names = options(rng, table, int(rng.integers(1, 3)))
            argv += opts
            name = " ".join(names)
        case = Case(f"video {name}", work, ["video", movie, style, "-o", str(out / "styled.mp4"), *FAST, *argv],
                    ["styled.mp4"])
        tally.check(case, *cli_run(capfd, case.argv))
    tally.done()


# --------------------------------------------------------------------------- the worker

JUNK = [float("nan"), float("inf"), float("-inf"), -1, 0, -0.0, 1e308, 10 ** 30, 0.5, 3, "x", "", None,
        True, [], {}, [1, "a"], "NaN"]
FIELDS = {"content": ["strength", "style_scale", "tile", "style_weights", "focus", "falloff", "far_scale",
                      "hdr", "wrap", "overwrite", "output", "content", "styles", "method", "precision"],
          "frames": ["fps", "coherence", "video", "strength", "tile", "frames", "output"],
          "movie": ["start", "end", "blend", "coherence", "strength", "movie"]}


def _worker(spec: dict) -> tuple[int, list[dict], str]:
    out = io.StringIO()
    rc = worker.main(io.StringIO(json.dumps(spec)), out)  # NaN and Infinity: what json.loads accepts
    return rc, [json.loads(line) for line in out.getvalue().splitlines()]


def test_fuzz_worker(capfd, inputs, tmp_path):
    tally = Tally("worker")
    for i, rng, work, inp, out in cases(tmp_path, 5, 24):
        kind = ["content", "frames", "movie"][i % 3]
        base = {"styles": [place(inputs["style"], inp)], "method": "wct-r31", "allow_untrained": True}
        if kind == "content":
            spec = {**base, "content": place(inputs["png"], inp), "output": str(out / "r.png"),
                    "depth": place(inputs["depth"], inp)}
            outputs = ["r.png"]
        elif kind == "frames":
            spec = {**base, "frames": place(inputs["frames"], inp), "output": str(out / "styled"),
                    "video": str(out / "m.mp4")}
            outputs = ["styled", "m.mp4"]
        else:
            spec = {**base, "movie": place(inputs["mp4"], inp), "output": str(out / "m.mp4"), "coherence": "none"}
            outputs = ["m.mp4"]
        name = []
        for field in rng.choice(FIELDS[kind], size=int(rng.integers(1, 3)), replace=False):
            spec[field] = JUNK[int(rng.integers(0, len(JUNK)))]
            name.append(f"{field}={spec[field]!r}")
        case = Case(f"worker {kind} {' '.join(name)}", work, [], outputs)
        rc, lines = _worker(spec)
        err = capfd.readouterr().err
        results = [m for m in lines if m.get("type") == "result"]
        said = err.splitlines()
        if len(results) != 1 or lines[-1] is not results[0]:
            said.append("Traceback: not exactly one result line, last")
        elif results[0]["status"] == "error":
            said += [f"brushwork: error: {line}" for line in results[0]["message"].splitlines()]
        err = "\n".join(said)
        tally.check(case, rc, err)
    tally.done()


# --------------------------------------------------------------------------- real processes


def test_fuzz_real_processes(inputs, tmp_path):
    """A few cases as real processes: what the interpreter and C libraries print shows here."""
    tally = Tally("processes")
    for i, rng, work, inp, out in cases(tmp_path, 6, 3):
        kind = KINDS[int(rng.integers(0, len(KINDS)))]
        fmt = ["png", "jpg", "exr"][i % 3]
        content = place(inputs[fmt], inp, damage=lambda b: corrupt(b, rng, kind, fmt))
        opts, names = options(rng, ENGINE, 1)
        argv = ["stylize", content, place(inputs["style"], inp), "-o", str(out / "r.png"), *FAST, *opts]
        case = Case(f"process stylize {kind} {fmt} {' '.join(names)}", work, argv, ["r.png"])
        p = subprocess.run([sys.executable, "-m", "core", *argv], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
        tally.check(case, p.returncode, p.stderr)
    tally.done()


def test_corruptions_change_the_files():
    """The generator itself: every kind of damage changes a file (else cases test nothing)."""
    rng = np.random.default_rng(0)
    data = bytes(range(256)) * 8
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + bytes(range(7, 24)) + data
    for kind in KINDS:
        assert corrupt(png, rng, kind, "png") != png, kind


# --------------------------------------------------------------------------- what the fuzzer found, one test each


def refused(rc, err: str, *names: str) -> str:
    """Exit 2 with one error line, last, naming each of `names`; returns the line."""
    lines = err.splitlines()
    assert rc == 2 and "Traceback" not in err, err
    assert lines and lines[-1].startswith("brushwork: error:"), err
    assert all(ln.startswith("brushwork: warning:") for ln in lines[:-1]), err
    for name in names:
        assert name in lines[-1], lines[-1]
    return lines[-1]


@pytest.mark.parametrize("flag, value", [("--focus", "nan"), ("--falloff", "nan"), ("--falloff", "inf"),
                                         ("--far-scale", "nan"), ("--far-scale", "-2"), ("--far-scale", "1e300")])
def test_depth_numbers_must_be_finite_and_in_range(capfd, inputs, out_dir, flag, value):
    rc, err = cli_run(capfd, ["stylize", inputs["png"], inputs["style"], "-o", str(out_dir / "r.png"), *FAST,
                              "--depth", inputs["depth"], f"{flag}={value}"])
    refused(rc, err, f"{flag} {float(value)}")
    assert os.listdir(out_dir) == []


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-24", "1e20"])
def test_join_and_frames_refuse_a_frame_rate_ffmpeg_cannot_use(capfd, inputs, out_dir, value):
    """Was a traceback (OverflowError, or a temp movie ffmpeg never wrote) or garbage."""
    rc, err = cli_run(capfd, ["join", inputs["frames"], "-o", str(out_dir / "j.mp4"), f"--fps={value}"])
    refused(rc, err, f"--fps {float(value)}")
    rc, err = cli_run(capfd, ["frames", inputs["frames"], inputs["style"], "-o", str(out_dir / "f"), *FAST,
                              "--video", str(out_dir / "f.mp4"), f"--fps={value}"])
    refused(rc, err, f"--fps {float(value)}")
    assert os.listdir(out_dir) == []


@pytest.mark.parametrize("args, named", [(["--start=nan"], "--start nan"), (["--end=nan"], "--end nan"),
                                         (["--start=1", "--end=0.5"], "--end 0.5"), (["--start=-inf"], "--start")])
def test_movie_range_is_checked_and_names_the_flag_given(capfd, inputs, out_dir, args, named):
    """NaN start reached ffmpeg (a traceback); a bad end was reported as --start."""
    rc, err = cli_run(capfd, ["video", inputs["mp4"], inputs["style"], "-o", str(out_dir / "v.mp4"), *FAST, *args])
    refused(rc, err, named)
    assert os.listdir(out_dir) == []


def test_join_and_frames_video_replace_an_mp4_only_when_asked(capfd, inputs, out_dir):
    movie = out_dir / "m.mp4"
    movie.write_bytes(b"precious")
    rc, err = cli_run(capfd, ["join", inputs["frames"], "-o", str(movie)])
    refused(rc, err, "m.mp4", "already exists", "--overwrite")
    rc, err = cli_run(capfd, ["frames", inputs["frames"], inputs["style"], "-o", str(out_dir / "f"), *FAST,
                              "--video", str(movie)])
    refused(rc, err, "m.mp4", "already exists")
    assert movie.read_bytes() == b"precious" and os.listdir(out_dir) == ["m.mp4"]  # no frames folder either
    rc, err = cli_run(capfd, ["join", inputs["frames"], "-o", str(movie), "--overwrite"])
    assert rc == 0, err
    assert video.probe(str(movie)).width == W and sorted(os.listdir(out_dir)) == ["m.mp4"]


def test_a_file_that_appears_while_the_job_runs_is_not_replaced(capfd, inputs, out_dir):
    """The existence check runs at the start; the final rename used to replace whatever
    had appeared at the path since. Now the result is linked into place, which refuses."""
    from core.engine.stylizer import Settings
    from core.errors import BrushworkError
    from core.jobs import image

    target = out_dir / "r.png"

    def meanwhile(fraction, stage):
        if not target.exists():
            target.write_bytes(b"someone else's")

    job = image.Job(content=inputs["png"], styles=[inputs["style"]], output=str(target), method="wct-r31",
                    settings=Settings())
    with pytest.raises(BrushworkError, match="already exists") as e:
        image.run(job, meanwhile)
    assert e.value.setting == "overwrite"
    assert target.read_bytes() == b"someone else's" and os.listdir(out_dir) == ["r.png"]


def test_a_movie_whose_last_step_fails_is_not_left_in_place(inputs, out_dir):
    """The 360° metadata used to go into the movie after it was in place, and a failure
    there left the movie behind; now the last step runs on the temp file."""
    from core.errors import BrushworkError

    def failing(path):
        raise BrushworkError(f"{path}: damaged MP4 (as if)")

    with pytest.raises(BrushworkError, match="damaged MP4"):
        video.write_mp4(sorted(Path(inputs["frames"]).iterdir()), str(out_dir / "m.mp4"), 6, finish=failing)
    assert os.listdir(out_dir) == []


@pytest.mark.parametrize("output", ["", "/", "nowhere/p.mp4", "p"])
def test_panorama_movie_output_paths_are_one_line(capfd, inputs, tmp_path, monkeypatch, output):
    """A folder of equirect frames → an .mp4: a bad output path was a traceback."""
    monkeypatch.chdir(tmp_path)
    rc, err = cli_run(capfd, ["panorama", inputs["frames"], inputs["style"], "-o", output, *FAST])
    refused(rc, err)
    assert sorted(os.listdir(tmp_path)) == []


def test_frames_output_that_is_a_file_is_one_line(capfd, inputs, out_dir):
    (out_dir / "taken").write_bytes(b"x")
    rc, err = cli_run(capfd, ["frames", inputs["frames"], inputs["style"], "-o", str(out_dir / "taken"), *FAST])
    refused(rc, err, "taken", "is a file")
    assert (out_dir / "taken").read_bytes() == b"x"


def test_library_chatter_becomes_part_of_our_one_line(capfd, inputs, out_dir, tmp_path):
    """libpng and OpenEXR printed their own lines before ours."""
    png = tmp_path / "bad.png"
    data = bytearray(Path(inputs["png"]).read_bytes())
    data[-40:-20] = bytes(20)  # inside the last IDAT: the CRC no longer matches
    png.write_bytes(bytes(data))
    exr = tmp_path / "bad.exr"
    exr.write_bytes(Path(inputs["exr"]).read_bytes()[:-300])
    for bad, library in ((png, "libpng: "), (exr, "OpenEXR: ")):
        rc, err = cli_run(capfd, ["stylize", str(bad), inputs["style"], "-o", str(out_dir / "r.png"), *FAST])
        refused(rc, err, bad.name, "not a readable image", library)
        assert len(err.splitlines()) == 1, err


def test_a_damaged_jpeg_that_still_decodes_says_so_in_a_warning(capfd, inputs, out_dir, tmp_path):
    data = bytearray(Path(inputs["jpg"]).read_bytes())
    data[len(data) // 2:len(data) // 2 + 40] = bytes(40)   # zeros in the middle of the scan
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(bytes(data))
    rc, err = cli_run(capfd, ["stylize", str(bad), inputs["style"], "-o", str(out_dir / "r.png"), *FAST])
    assert rc == 0, err
    assert err.splitlines() == [ln for ln in err.splitlines() if ln.startswith(f"brushwork: warning: {bad}: ")]
    assert "libjpeg: " in err


def _rgba(tmp_path, alpha: np.ndarray) -> str:
    return save(tmp_path / "rgba.png", np.dstack([photo(H, W), alpha]))


def test_opaque_alpha_is_dropped_for_jpeg_and_real_alpha_refused(capfd, inputs, out_dir, tmp_path):
    """An alpha of 255 everywhere carries nothing: JPEG gets the colours. Real transparency
    is refused, saying how to keep it."""
    opaque = _rgba(tmp_path, np.ones((H, W), np.float32))
    rc, err = cli_run(capfd, ["stylize", opaque, inputs["style"], "-o", str(out_dir / "r.jpg"), *FAST])
    assert rc == 0 and err == "", err
    got = read_image(str(out_dir / "r.jpg"))
    assert got.pixels.shape == (H, W, 3) and got.pixels.std() > 0.01
    alpha = np.ones((H, W), np.float32)
    alpha[:5, :7] = 0.5
    holey = _rgba(tmp_path, alpha)
    rc, err = cli_run(capfd, ["stylize", holey, inputs["style"], "-o", str(out_dir / "h.jpg"), *FAST])
    refused(rc, err, "h.jpg", "35 pixel(s)", "PNG, TIFF or EXR")
    assert os.listdir(out_dir) == ["r.jpg"]


def test_one_nan_block_in_an_exr_no_longer_ruins_the_picture(capfd, inputs, out_dir, tmp_path):
    """Statistics are global: one NaN pixel made every output pixel NaN (written black)."""
    clean = photo(H, W, seed=1) ** 2.2
    poisoned = clean.copy()
    poisoned[10:14, 20:26] = np.nan
    poisoned[0, 0] = np.inf
    poisoned[0, 1] = -np.inf
    src = save(tmp_path / "nan.exr", poisoned, np.float32, linear=True)
    got = read_image(src)
    err = capfd.readouterr().err
    assert "nan.exr: 26 pixel(s) hold NaN or infinite values" in err
    assert np.isfinite(got.pixels).all() and got.pixels[0, 0].max() == np.nanmax(poisoned[np.isfinite(poisoned)])
    assert (got.pixels[10:14, 20:26] == 0).all() and got.pixels[0, 1].max() == 0
    for name, pic in (("clean", save(tmp_path / "clean.exr", clean, np.float32, linear=True)), ("poisoned", src)):
        rc, err = cli_run(capfd, ["stylize", pic, inputs["style"], "-o", str(out_dir / f"{name}.png"), *FAST])
        assert rc == 0, err
    a = read_image(str(out_dir / "clean.png")).pixels
    b = read_image(str(out_dir / "poisoned.png")).pixels
    assert b.std() > 0.05                                     # a picture, not black
    far = np.ones((H, W), bool)
    far[4:20, 12:34] = False                                  # away from the block
    assert np.abs(a - b)[far].mean() < 0.05                   # the same painting there (about 8/255 off)


def test_worker_spec_numbers_are_checked_too(capfd, inputs, out_dir):
    """JSON accepts NaN and Infinity; they reached the depth mix and wrote a black picture."""
    base = {"content": inputs["png"], "styles": [inputs["style"]], "output": str(out_dir / "r.png"),
            "method": "wct-r31", "depth": inputs["depth"]}
    for field, value in (("focus", float("nan")), ("falloff", float("inf")), ("far_scale", float("nan"))):
        rc, lines = _worker({**base, field: value})
        assert rc == 2 and lines[-1]["status"] == "error", lines
        assert lines[-1]["message"].startswith(f"{field.replace('_', ' ')} nan" if value != value else
                                               f"{field.replace('_', ' ')} inf"), lines[-1]
    spec = {"frames": inputs["frames"], "styles": [inputs["style"]], "output": str(out_dir / "f"),
            "video": str(out_dir / "f.mp4"), "fps": float("inf")}
    rc, lines = _worker(spec)
    assert rc == 2 and lines[-1]["message"].startswith("fps inf: must be above 0"), lines
    assert os.listdir(out_dir) == []


def test_frames_that_fail_before_any_frame_is_done_leave_no_folder(capfd, inputs, tmp_path, out_dir):
    """The output folder was made first and left behind, empty, when a frame was unreadable."""
    frames = Path(place(inputs["frames"], tmp_path))
    (frames / "f_002.png").write_bytes((frames / "f_002.png").read_bytes()[:100])
    rc, err = cli_run(capfd, ["frames", str(frames), inputs["style"], "-o", str(out_dir / "styled"), *FAST])
    refused(rc, err, "f_002.png")
    assert os.listdir(out_dir) == []


def test_a_movie_ffmpeg_gives_up_on_midway_is_one_line(inputs, tmp_path):
    """A lying box size in the MP4 passed the probe, then decoding raised RuntimeError
    ("Conversion failed!") as a traceback."""
    from core.errors import BrushworkError

    rng, data, failed = np.random.default_rng(1), Path(inputs["mp4"]).read_bytes(), 0
    for i in range(40):
        bad = tmp_path / f"lie{i}.mp4"
        bad.write_bytes(corrupt(data, rng, "lie", "mp4"))
        try:
            list(video.read_movie(video.probe(str(bad))))
        except BrushworkError as e:
            failed += "ffmpeg could not decode the movie (ffmpeg: " in str(e)
    assert failed  # the generator does reach the case; each one was a clean line


# --------------------------------------------------------------------------- the worker's grammar

NUMERIC = ["fps", "coherence", "focus", "falloff", "start", "end", "strength", "style_scale", "tile", "blend",
           "far_scale"]


def _grammar_case(rng, inputs, inp: Path, out: Path) -> tuple[str, bytes]:
    """One hostile byte stream for the worker: (what it tries, the bytes)."""
    spec = {"content": place(inputs["png"], inp), "output": str(out / "r.png"),
            "styles": [place(inputs["style"], inp)], "method": "wct-r31", "allow_untrained": True}
    kind = ["huge", "nesting", "nul", "long", "types", "bytes"][int(rng.integers(0, 6))]
    if kind == "huge":
        field = NUMERIC[int(rng.integers(0, len(NUMERIC)))]
        digits = int(rng.choice([20, 309, 401, 4400, 6000]))
        number = ("-" if rng.random() < 0.3 else "") + "9" * digits
        if field == "fps":
            spec = {k: v for k, v in spec.items() if k != "content"} | {"frames": str(inp), "output": str(out / "f")}
        text = json.dumps({**spec, field: 0}).replace(f'"{field}": 0', f'"{field}": {number}')
        if rng.random() < 0.3:   # a list of weights holding it
            text = json.dumps({**spec, "style_weights": [0]}).replace("[0]", f"[{number}]")
        return f"huge {field} ({digits} digits)", text.encode()
    if kind == "nesting":
        depth = int(rng.choice([1_000, 20_000, 200_000]))
        value = "[" * depth + "]" * depth
        where = int(rng.integers(0, 2))
        text = value if where == 0 else json.dumps(spec)[:-1] + f', "styles": {value}}}'
        return f"nesting {depth} {'whole' if where == 0 else 'field'}", text.encode()
    if kind == "nul":
        field = ["content", "output", "styles"][int(rng.integers(0, 3))]
        bad = str(inp / "a\0b.png")
        return f"nul in {field}", json.dumps({**spec, field: [bad] if field == "styles" else bad}).encode()
    if kind == "long":
        field = ["content", "output", "styles"][int(rng.integers(0, 3))]
        n = int(rng.choice([256, 300, 1000, 5000]))
        bad = str((out if field == "output" else inp) / ("x" * n + ".png"))
        return f"long {field} ({n})", json.dumps({**spec, field: [bad] if field == "styles" else bad}).encode()
    if kind == "types":
        field = ["content", "output", "styles", "strength", "tile", "pooled", "contents", "method"][int(rng.integers(0, 8))]
        value = [None, {}, {"a": 1}, [[1]], True, 1.5, "x" * 200, [None]][int(rng.integers(0, 8))]
        return f"type {field}={str(value)[:20]}", json.dumps({**spec, field: value}).encode()
    blob = rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes()
    return "random bytes", blob


def test_fuzz_worker_grammar(capfd, inputs, tmp_path):
    """Any byte stream on the worker's stdin: exactly one result line, last, exit 2 for a bad
    spec (or 0 where it is good), never a traceback; the message repeats no long value."""
    tally = Tally("worker grammar")
    for i, rng, work, inp, out in cases(tmp_path, 7, 40):
        what, data = _grammar_case(rng, inputs, inp, out)
        case = Case(f"grammar {what}", work, [], ["f"] if what.startswith("huge fps") else ["r.png"])
        stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        sink = io.StringIO()
        try:
            rc = worker.main(stream, sink)
        except BaseException as e:  # noqa: BLE001 - escaping the worker is the finding
            rc, sink = 1, io.StringIO(f"Traceback: {type(e).__name__}\n")
        err = capfd.readouterr().err
        lines = [ln for ln in sink.getvalue().splitlines() if ln.strip()]
        try:
            messages = [json.loads(ln) for ln in lines]
        except json.JSONDecodeError:
            messages = []
        results = [m for m in messages if m.get("type") == "result"]
        said = err.splitlines()
        if len(results) != 1 or messages[-1] is not results[0]:
            said.append("Traceback: not exactly one result line, last")
        elif results[0]["status"] == "error":
            message = results[0]["message"]
            if len(message) > 400 or "9" * 40 in message:
                said.append(f"Traceback: a long value repeated ({len(message)} characters)")
            said += [f"brushwork: error: {line}" for line in message.splitlines()]
        tally.check(case, rc, "\n".join(said))
    tally.done()


# --------------------------------------------------------------------------- a set is one job


def _set_inputs(folder: Path, n: int = 3, side: int = 192) -> list[str]:
    return [save(folder / f"b{k}.png", photo(side, side, seed=30 + k)) for k in range(n)]


def _stop_midway(argv: list[str], first: Path, sig: int, delay: float | None, stdin: str | None = None):
    """Start a real process, wait until `first` exists (or `delay` seconds), send `sig`;
    returns the finished process's (returncode, stdout, stderr)."""
    import signal as _signal  # noqa: F401 - the numbers come from the caller
    import time
    p = subprocess.Popen([sys.executable, "-m", "core", *argv], cwd=ROOT, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if stdin is not None:
        p.stdin.write(stdin)
    p.stdin.close()
    p.stdin = None   # closed: communicate() must not flush it
    t0 = time.monotonic()
    while p.poll() is None and time.monotonic() - t0 < 120:
        if (delay is None and first.exists()) or (delay is not None and time.monotonic() - t0 >= delay):
            p.send_signal(sig)
            break
        time.sleep(0.002)
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


def test_fuzz_sets_stopped_midway_leave_nothing(tmp_path):
    """A set (CLI, pooled or --separate; the worker) stopped by SIGINT or SIGTERM at a random
    point, often right after its first result landed: it exits 130 with nothing of the set
    on disk, or finishes with all of it; never a traceback."""
    import signal
    tally = Tally("sets stopped")
    for i, rng, work, inp, out in cases(tmp_path, 8, 4):
        contents = _set_inputs(inp)
        sig = [signal.SIGINT, signal.SIGTERM][i % 2]
        delay = None if rng.random() < 0.6 else float(rng.uniform(0.5, 8))
        dest = out / "set"
        if i % 4 == 3:   # the worker, as the add-on runs it
            outputs = [str(dest / Path(c).name) for c in contents]
            dest.mkdir()
            spec = json.dumps({"contents": contents, "outputs": outputs, "styles": ["monet-cliff-walk"],
                               "pooled": bool(i % 2), "force_color": True})
            rc, stdout, err = _stop_midway(["worker"], dest / "b0.png", sig, delay, spec)
            result = json.loads(stdout.strip().splitlines()[-1])
            if result["status"] == "cancelled":
                rc = 130
            what = f"worker pooled={bool(i % 2)}"
            case = Case(f"set {what} {signal.Signals(sig).name} at {delay or 'first result'}", work, [], ["set"])
            case.out_before = {"set": ""}
        else:
            argv = ["stylize", *contents, "--style", "monet-cliff-walk", "-o", str(dest), "--quiet"]
            if i % 4 == 1:
                argv.append("--separate")
            rc, _, err = _stop_midway(argv, dest / "b0.png", sig, delay)
            case = Case(f"set cli {' '.join(argv[5:])} {signal.Signals(sig).name} at {delay or 'first result'}",
                        work, argv, ["set"])
        if rc == 130:
            rc = 2 if "Traceback" in err else 0   # cancelled is a clean end: judged by what it left
            left = sorted(p.name for p in dest.iterdir()) if dest.exists() else []
            if left:
                err += f"\nTraceback: left {left} after the cancel"
            case.outputs = []   # nothing may be there
            err = "\n".join(ln for ln in err.splitlines() if not ln.startswith("brushwork: interrupted"))
        tally.check(case, rc, err)
    tally.done()


def test_a_set_on_a_disk_that_fills_part_way_leaves_nothing_and_says_so(capfd, tmp_path):
    """Outputs on a small tmpfs filled so the first result fits and the second does not:
    one error line saying the disk is full, no result left, and the re-run (space freed)
    paints the set with no "already exists"."""
    if os.geteuid() != 0:
        pytest.fail("mounting a small tmpfs needs root (CI runs as root)")
    contents = _set_inputs(tmp_path)
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True)
    assert mounted.returncode == 0, mounted.stderr
    try:
        room = os.path.getsize(contents[0]) * 3 // 2   # the first result fits, the second does not
        filler = disk / "filler"
        filler.write_bytes(b"\0" * (os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize - room))
        argv = ["stylize", *contents, "--style", "monet-cliff-walk", "-o", str(disk / "set"), "--quiet"]
        rc, err = cli_run(capfd, argv + ["--separate"])
        line = refused(rc, err, "No space left on device", "nothing of this set was written")
        assert "1 image(s) painted before it were removed" in line
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
        filler.unlink()
        rc, err = cli_run(capfd, argv)
        assert rc == 0, err
        assert sorted(p.name for p in (disk / "set").iterdir()) == ["b0.png", "b1.png", "b2.png"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_damaged_member_fails_a_separate_set_before_any_is_painted(capfd, tmp_path):
    contents = _set_inputs(tmp_path)
    data = Path(contents[2]).read_bytes()
    Path(contents[2]).write_bytes(data[: len(data) // 2])   # truncated
    rc, err = cli_run(capfd, ["stylize", *contents, "--style", "monet-cliff-walk", "-o", str(tmp_path / "set"),
                              "--separate", "--quiet"])
    refused(rc, err, "b2.png")
    assert not (tmp_path / "set").exists()


# --------------------------------------------------------------------------- true messages


def test_a_dangling_link_at_the_output_is_refused_before_painting(capfd, inputs, out_dir):
    link = out_dir / "r.png"
    link.symlink_to(out_dir / "gone.png")
    rc, err = cli_run(capfd, ["stylize", inputs["png"], inputs["style"], "-o", str(link), "--quiet"])
    line = refused(rc, err, "symbolic link", "does not exist")
    assert "appeared" not in line and link.is_symlink() and not (out_dir / "gone.png").exists()


@pytest.mark.parametrize("argv, named", [
    (["stylize", "CONTENT", "", "-o", "OUT/r.png"], "style: the path is empty"),
    (["stylize", "CONTENT", "/tmp/" + "s" * 5000 + ".jpg", "-o", "OUT/r.png"], "bytes long"),
    (["stylize", "CONTENT", "STYLE", "-o", "OUT/" + "o" * 300 + ".png"], "a name in it is 304 bytes long"),
    (["stylize", "CONTENT", "STYLE", "-o", "OUT/r.png", "--backend", "onnx", "--precision", "bf16"],
     "--precision bf16: onnxruntime runs the networks in fp32"),
    (["video", "CONTENT", "STYLE", "-o", "OUT/m.mp4"], "a still image, not a movie"),
])
def test_messages_are_true_and_name_what_was_given(capfd, inputs, out_dir, argv, named):
    argv = [a.replace("CONTENT", inputs["png"]).replace("STYLE", inputs["style"]).replace("OUT", str(out_dir))
            for a in argv]
    line = refused(*cli_run(capfd, argv), named)
    assert len(line) < 300, line
    assert os.listdir(out_dir) == []


def test_a_huge_number_is_not_echoed_in_full(capfd, inputs, out_dir):
    rc, lines = _worker({"content": inputs["png"], "output": str(out_dir / "r.png"), "styles": [inputs["style"]],
                         "strength": 10 ** 400})
    message = lines[-1]["message"]
    assert rc == 2 and "strength" in message and "401-digit" in message and len(message) < 200, message


def test_files_are_recognised_by_content_not_by_name(capfd, inputs, tmp_path, monkeypatch):
    """A JPEG saved as `monet-cliff-walk` (no extension) in the working folder is the style
    (the gallery's documented rule: a local file wins), and a PNG named .jpg reads too."""
    monkeypatch.chdir(tmp_path)
    save(tmp_path / "painting.jpg", photo(96, 128, seed=5))
    os.rename(tmp_path / "painting.jpg", tmp_path / "monet-cliff-walk")
    shutil.copy(inputs["png"], tmp_path / "content.jpg")
    rc, err = cli_run(capfd, ["stylize", "content.jpg", "monet-cliff-walk", "-o", "r.png", *FAST])
    assert rc == 0, err
    (tmp_path / "notes").write_text("not a picture")
    refused(*cli_run(capfd, ["stylize", "notes", "monet-cliff-walk", "-o", "s.png", *FAST]),
            "notes", "(no extension)")


def test_training_configs_that_cannot_run_are_one_line(tmp_path):
    """scripts/train.py with a missing, malformed or ill-typed config: exit 2, one line, no traceback."""
    good = (ROOT / "scripts" / "train.toml").read_text()
    configs = {"missing": None, "syntax": "seed = = 1\n", "seed": good.replace("seed = 0", 'seed = "zero"'),
               "iters": good.replace("iters = 3000", "iters = -5", 1), "lr": good.replace("lr = 2e-4", 'lr = "fast"', 1),
               "kind": good.replace('kind = "linear"', 'kind = "linaer"', 1), "top": "pack = 1\n"}
    for name, text in configs.items():
        path = tmp_path / f"{name}.toml"
        if text is not None:
            path.write_text(text)
        p = subprocess.run([sys.executable, "scripts/train.py", "linear_r31", "--config", str(path)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and "Traceback" not in p.stderr and len(lines) == 1, (name, p.stderr)
        assert lines[0].startswith("train.py: error:") and str(path) in lines[0], (name, lines)
    p = subprocess.run([sys.executable, "scripts/train.py", "no_such_stage"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "no stage 'no_such_stage'" in p.stderr and "linear_r31" in p.stderr


def test_a_panorama_movie_on_a_full_disk_says_the_disk_is_full(tmp_path):
    """ffmpeg can end "fine" on a full disk with a truncated MP4; the 360° metadata step
    then found no 'moov' box and named the hidden partial file. Now: the disk is full, the
    output named, nothing left."""
    from core.errors import BrushworkError
    from core.media import spherical
    if os.geteuid() != 0:
        pytest.fail("mounting a small tmpfs needs root (CI runs as root)")
    frames = [save(tmp_path / f"f{k:03d}.png", photo(64, 128, seed=k)) for k in range(12)]
    disk = tmp_path / "disk"
    disk.mkdir()
    assert subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)]).returncode == 0
    try:
        st = os.statvfs(disk)
        (disk / "filler").write_bytes(b"\0" * (st.f_bavail * st.f_frsize - 4096))
        with pytest.raises(BrushworkError) as e:
            video.write_mp4([Path(f) for f in frames], str(disk / "pano.mp4"), 24, finish=spherical.inject)
        message = str(e.value)
        assert message.startswith(f"{disk / 'pano.mp4'}: ") and "is full" in message, message
        assert "moov" not in message and "partial" not in message
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)
