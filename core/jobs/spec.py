"""What every job shares: the engine options, the JSON spec's schema, and the rules for
inputs and outputs.

`EngineOptions` is declared once; the image, frame-sequence and movie jobs add their own
fields to it. The worker's JSON spec is the same fields in snake_case (`from_spec`), the
CLI fills the same fields from its flags, and the add-on sends the same JSON.
"""
from __future__ import annotations

import contextlib
import math
import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

import numpy as np

from core import backends, gallery
from core.engine.stylizer import Settings, Stylizer, check_choices, default_method
from core.errors import BrushworkError, Cancelled, SettingError, show, shorten, warn
from core.media import colour
from core.media.image_io import read_image

HDR_MODES = ("auto", "clip", "tonemap")


@dataclass(kw_only=True)
class EngineOptions:
    """The options of every job that runs the networks."""
    styles: list[str]
    method: str = field(default_factory=default_method)
    settings: Settings = field(default_factory=Settings)
    preserve_color: bool = False   # keep the content's colours; take strokes and light from the style
    device: str = "auto"           # auto | cpu | cuda
    backend: str = "auto"          # auto (torch if installed, else onnxruntime) | torch | onnx
    precision: str = "auto"        # torch: auto (fp16 on CUDA, fp32 elsewhere; WCT fp32) | fp32 | bf16 | fp16
    allow_untrained: bool = False  # run deterministic random weights where trained ones are missing
    overwrite: bool = False        # replace existing outputs (frames: redo finished frames)

    def check_engine(self) -> None:
        """The options checked before anything is read or loaded."""
        self.settings.check(len(self.styles))
        w = self.settings.style_weights
        if w is not None and not math.isfinite(sum(w)):  # each finite, yet their sum overflows
            raise SettingError("style_weights", w, "too large to add up; give weights like 0.3,0.7")
        check_choices(self.method, self.device)
        if self.precision not in backends.PRECISIONS:
            raise SettingError("precision", self.precision, f"choose one of {', '.join(backends.PRECISIONS)}")
        if backends.resolve(self.backend) == "onnx" and self.precision not in ("auto", "fp32"):
            raise SettingError("precision", self.precision, "onnxruntime runs the networks in fp32; "
                               "bf16 and fp16 need the torch backend")
        if not self.styles:
            raise BrushworkError("no style image given")
        self.styles = [gallery.resolve_style(s) for s in self.styles]  # a gallery id is its painting

    def stylizer(self) -> Stylizer:
        """The networks for this job, with a warning where they are untrained."""
        if backends.resolve(self.backend) == "onnx":
            _quiet_onnxruntime()
        stylizer = Stylizer(self.method, self.device, self.allow_untrained, self.backend, self.precision)
        if stylizer.untrained:
            warn(f"{self.method} runs with deterministic RANDOM weights ({', '.join(stylizer.untrained)} "
                 "not trained yet): the output shows the plumbing, not a painting")
        return stylizer

    def keep_colour(self, result: np.ndarray, rgb: np.ndarray) -> np.ndarray:
        """The result with the content's colours put back, where asked."""
        return colour.preserve_color(np.clip(result, 0, 1), rgb) if self.preserve_color else result


def _quiet_onnxruntime() -> None:
    """onnxruntime logs its own warnings (e.g. about unused initialisers) to stderr; the user
    reads our lines, and its errors still reach us as exceptions."""
    import onnxruntime
    onnxruntime.set_default_logger_severity(3)  # errors and worse


def from_spec(cls, spec: dict):
    """A job dataclass from a JSON spec: `Settings` fields are gathered into `settings`,
    fields without a default are required. Types are checked here, so a wrong one is a
    message, not a crash deep inside (and "overwrite": "false" is not taken for true)."""
    spec = dict(spec)
    own = {f.name: f for f in fields(cls)}
    known = (set(own) - {"settings"}) | set(Settings.__dataclass_fields__)
    unknown = set(spec) - known
    if unknown:
        raise BrushworkError(f"job spec: unknown field(s) {', '.join(sorted(unknown))}")
    for f in own.values():
        if f.default is MISSING and f.default_factory is MISSING and f.name not in spec:
            raise BrushworkError(f"job spec: '{f.name}' is required")
    if isinstance(spec.get("styles"), str):
        spec["styles"] = [spec["styles"]]
    for name, value in spec.items():
        check_type(name, value)
        for text in (value if isinstance(value, list) else [value]) if name in PATH_FIELDS else ():
            check_path_text(name, text)
    settings = Settings(**{k: spec.pop(k) for k in list(spec) if k in Settings.__dataclass_fields__})
    return cls(settings=settings, **spec)


def _is_number(v) -> bool:
    """A number, NaN and inf included (ranges are checked where each is used), but not an
    integer too large for a float: the engine works in floats."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, int) and v.bit_length() > 1000)


PATH_FIELDS = {"content", "output", "styles", "contents", "outputs", "frames", "vectors", "video", "movie", "depth"}
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
    "precision": (lambda v: v in backends.PRECISIONS, "auto, fp32, bf16 or fp16"),
    "wrap": (lambda v: isinstance(v, str), "a string"),
    "strength": (_is_number, "a number"),  # "a number": within a float's range (about 1.8e308)
    "style_scale": (_is_number, "a number"),
    "tile": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "style_weights": (lambda v: v is None or (isinstance(v, list) and all(map(_is_number, v))),
                      "a list of numbers"),
    **{flag: (lambda v: isinstance(v, bool), "true or false")
       for flag in ("preserve_color", "allow_untrained", "overwrite", "force_color", "emission")},
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
}


def check_type(name: str, value) -> None:
    test, wanted = SCHEMA[name]
    if not test(value):
        raise BrushworkError(f"job spec: '{name}' must be {wanted}, not {show(value)}")


def check_new_file(output: str, inputs: list[str], overwrite: bool) -> Path:
    """The path of a result file to write: not one of `inputs`, not a folder, not an
    existing file unless `overwrite`, in a folder that exists."""
    out = Path(output)
    for src in inputs:
        if Path(src).exists() and out.exists() and os.path.samefile(src, out):
            raise BrushworkError(f"{output}: is the input {src}; results are new files, originals stay")
    if out.is_dir():
        raise BrushworkError(f"{output}: is a folder; name the file to write")
    if out.is_symlink() and not out.exists():
        raise BrushworkError(f"{output}: is a symbolic link to {os.readlink(out)}, which does not exist; "
                             "results are written as new files, not through links: name another file")
    if out.exists() and not overwrite:
        raise BrushworkError(f"{output}: already exists; results replace files only when asked to overwrite",
                             "overwrite")
    if not out.parent.is_dir():
        raise BrushworkError(f"{output}: folder {out.parent} does not exist")
    return out


@contextlib.contextmanager
def output_folder(path: Path, what: str):
    """An output folder, made if missing; if this job made it and fails before anything
    is in it, it goes again: a failed job leaves no empty folder behind."""
    if path.exists() and not path.is_dir():
        raise BrushworkError(f"{path}: is a file; name a folder for {what}")
    made = not path.is_dir()
    if made:
        try:
            path.mkdir(parents=True)
        except OSError as e:
            raise BrushworkError(f"{path}: cannot make the folder ({e.strerror or e})") from None
    try:
        yield path
    except BaseException:
        if made and not any(path.iterdir()):
            path.rmdir()
        raise


def load_style(path: str) -> np.ndarray:
    pic = read_image(path)
    return colour.to_working(pic.color, pic.linear)


def check_cancel(cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled()
