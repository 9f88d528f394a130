"""Every job's fields in one place: their JSON types, defaults and ranges, and the rules a
path's text must meet. The one definition the worker checks a spec against, the engine's
range checks and dataclass defaults use, the CLI's flags take their defaults from, and the
add-on's properties take their limits from (tests/test_contract.py holds them to it).

No numpy, no engine imports: the add-on imports it inside Blender to check a spec before
it starts a worker.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ..errors import BrushworkError, shorten, show

PRECISIONS = ("auto", "fp32", "bf16", "fp16")   # torch's arithmetic; onnxruntime runs fp32
HDR_MODES = ("auto", "clip", "tonemap")
MAX_FPS = 1000
MAX_FAR_SCALE = 64


@dataclass(frozen=True)
class Range:
    """The values a number may take: [low, high], either end open, plus `also` (tile's 0)."""
    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    also: tuple = ()
    integer: bool = False

    def holds(self, v) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (self.integer and not isinstance(v, int)):
            return False
        if v in self.also:
            return True
        try:
            if not math.isfinite(v):
                return False
        except OverflowError:
            return False
        above = v > self.low if self.low_open else v >= self.low
        below = v < self.high if self.high_open else v <= self.high
        return above and below

    def words(self) -> str:
        """"must be between 0 and 1", "use 0 or at least 128", …: what a message asks for."""
        low = f"{'above' if self.low_open else 'at least'} {self.low:g}"
        if math.isinf(self.high):
            text = low
        elif not self.low_open and not self.high_open:
            text = f"between {self.low:g} and {self.high:g}"
        else:
            text = f"{low} and {'below' if self.high_open else 'at most'} {self.high:g}"
        return f"use {' or '.join(f'{a:g}' for a in self.also)} or {text}" if self.also else f"must be {text}"


# The numbers an artist sets in the panel and a pipeline on the CLI or in a spec, and what
# each is by default. The engine's checks refuse what falls outside (with their own words).
RANGES = {
    "strength": Range(0.0, 1.0),
    "style_scale": Range(0.125, 8.0),
    "tile": Range(128, also=(0,), integer=True),
    "coherence": Range(0.0, 1.0, high_open=True),       # a frame sequence's (a movie's is flow | none)
    "blend": Range(0.0, 1.0, high_open=True),
    "start": Range(0.0),
    "falloff": Range(0.0, low_open=True),
    "far_scale": Range(0.0, MAX_FAR_SCALE, low_open=True),
    "fps": Range(0.0, MAX_FPS, low_open=True),
}
DEFAULTS = {"strength": 1.0, "style_scale": 1.0, "tile": 512, "coherence": 0.75, "blend": 0.75, "start": 0.0,
            "far_scale": 1.0, "fps": 24.0, "depth_side": "both", "hdr": "auto", "precision": "auto",
            "backend": "auto", "device": "auto", "wrap": "none", "preserve_color": False, "pooled": True,
            "force_color": False, "emission": False, "panorama": False, "poles": True, "overwrite": False,
            "learned": True}


def _is_number(v) -> bool:
    """A number, NaN and inf included (ranges are checked where each is used), but not an
    integer too large for a float: the engine works in floats."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, int) and v.bit_length() > 1000)


PATH_FIELDS = {"content", "output", "styles", "contents", "outputs", "frames", "vectors", "video", "movie", "depth",
               "learn"}
NAME_MAX = 255     # bytes in one file or folder name (ext4, APFS, NTFS in characters)
PATH_MAX = 4096    # bytes in a whole path (Linux)


def check_path_text(name: str, text) -> None:
    """A path's text checked before any file system call sees it: empty, a NUL byte, or a
    name longer than file systems allow would otherwise surface as an OS traceback."""
    if not isinstance(text, str):
        return
    what = name.rstrip("s") if name in ("styles", "contents", "outputs") else name
    if not text.strip():
        raise BrushworkError(f"{what}: the path is empty; name a file", name)
    if "\0" in text:
        shown = shorten(text.replace("\0", "\\0"))
        raise BrushworkError(f"{what} {shown}: contains a NUL character, which no file name can hold", name)
    try:
        encoded = os.fsencode(text)
    except UnicodeError:
        raise BrushworkError(f"{what} {shorten(repr(text))}: not a valid file name in this system's encoding", name) from None
    if len(encoded) > PATH_MAX:
        raise BrushworkError(f"{what} {shorten(text)}: the path is {len(encoded)} bytes long; "
                             f"at most {PATH_MAX} are possible", name)
    for part in encoded.split(b"/"):
        if len(part) > NAME_MAX:
            raise BrushworkError(f"{what} {shorten(text)}: a name in it is {len(part)} bytes long; file systems "
                                 f"allow at most {NAME_MAX}", name)


SCHEMA = {  # field → (test, what the message asks for): every job's fields, snake_case
    "content": (lambda v: isinstance(v, str), "a path string"),
    "output": (lambda v: isinstance(v, str), "a path string"),
    "styles": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
               "a path string or a list of them"),
    "method": (lambda v: isinstance(v, str), "a string"),
    "device": (lambda v: isinstance(v, str), "a string"),
    "backend": (lambda v: isinstance(v, str), "auto, torch or onnx"),
    "precision": (lambda v: v in PRECISIONS, "auto, fp32, bf16 or fp16"),
    "wrap": (lambda v: isinstance(v, str), "a string"),
    "strength": (_is_number, "a number"),  # "a number": within a float's range (about 1.8e308)
    "style_scale": (_is_number, "a number"),
    "tile": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "style_weights": (lambda v: v is None or (isinstance(v, list) and all(map(_is_number, v))),
                      "a list of numbers"),
    **{flag: (lambda v: isinstance(v, bool), "true or false")
       for flag in ("preserve_color", "allow_untrained", "overwrite", "force_color", "emission", "learned")},
    # frame sequences (core/jobs/frames.py)
    "frames": (lambda v: isinstance(v, str), "a folder path string"),
    "vectors": (lambda v: v is None or isinstance(v, str), "a folder path string or null"),
    "video": (lambda v: v is None or isinstance(v, str), "an .mp4 path string or null"),
    "coherence": (lambda v: _is_number(v) or v in ("flow", "none"), "a number (frames) or flow/none (movie)"),
    "fps": (_is_number, "a number"),
    # movie files (core/jobs/movie.py)
    "movie": (lambda v: isinstance(v, str), "a path string"),
    "start": (_is_number, "a number of seconds"),
    "end": (lambda v: v is None or _is_number(v), "a number of seconds or null"),
    "blend": (_is_number, "a number"),
    # depth-aware style (core/scene/depth.py): the method's relu3_1 member in focus, its
    # relu4_1 sibling away; far_scale (default 1) multiplies the far half's stroke size
    "depth": (lambda v: v is None or isinstance(v, str), "a path string or null"),
    "focus": (lambda v: v is None or _is_number(v), "a number or null"),
    "falloff": (lambda v: v is None or _is_number(v), "a number or null"),
    "depth_side": (lambda v: isinstance(v, str), "both, far or near"),
    "far_scale": (_is_number, "a number"),
    "panorama": (lambda v: isinstance(v, bool), "true or false"),
    # several images, one look (core/jobs/image_set.py)
    "contents": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of path strings"),
    "outputs": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of path strings"),
    "pooled": (lambda v: isinstance(v, bool), "true or false"),
    "poles": (lambda v: isinstance(v, bool), "true or false"),
    "hdr": (lambda v: v in HDR_MODES, "auto, clip or tonemap"),
    # learning a painting (core/training/learn.py): its file or gallery id, and the budget
    "learn": (lambda v: isinstance(v, str), "a path string or gallery id"),
    "steps": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)), "an integer or null"),
    "minutes": (lambda v: v is None or _is_number(v), "a number or null"),
}


def check_type(name: str, value) -> None:
    test, wanted = SCHEMA[name]
    if not test(value):
        raise BrushworkError(f"job spec: '{name}' must be {wanted}, not {show(value)}")


def check_field(name: str, value) -> None:
    """One field's JSON type and, for a path, its text: what every reader of a spec checks first."""
    check_type(name, value)
    if name in PATH_FIELDS:
        for text in value if isinstance(value, list) else [value]:
            check_path_text(name, text)


def check_spec(spec: dict) -> None:
    """Every field's type and path text: what the add-on checks in-process before it starts
    a worker (the worker checks the same, and the engine the ranges, as it runs)."""
    unknown = sorted(set(spec) - set(SCHEMA))
    if unknown:
        raise BrushworkError(f"job spec: unknown field(s) {', '.join(unknown)}")
    for name, value in spec.items():
        check_field(name, value)
        if name in RANGES and name != "coherence" and not RANGES[name].holds(value):
            raise BrushworkError(f"{name.replace('_', ' ')} {show(value)}: {RANGES[name].words()}", name)
