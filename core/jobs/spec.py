"""What every job shares: the engine options, reading a JSON spec (its fields, types and
ranges are core/jobs/schema.py's), and the rules for inputs and outputs.

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

from .. import backends, gallery
from ..engine.stylizer import Settings, Stylizer, check_choices, default_method
from ..errors import BrushworkError, Cancelled, SettingError, warn
from .schema import check_field
from ..media import colour
from ..nets import learned
from ..media.image_io import read_image



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
    learned: bool = True           # a painting learned for the method (`brushwork learn`) paints with its weights

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
        stylizer = Stylizer(self.method, self.device, self.allow_untrained, self.backend, self.precision,
                            learned=self.learned_weights())
        if stylizer.untrained:
            warn(f"{self.method} runs with deterministic RANDOM weights ({', '.join(stylizer.untrained)} "
                 "not trained yet): the output shows the plumbing, not a painting")
        return stylizer

    def learned_weights(self) -> dict | None:
        """The weights learned for this job's painting (core/nets/learned.py), where it has
        one painting (several mixed share one transformation), asks for them and has them."""
        if not self.learned or len(set(self.styles)) != 1:
            return None
        return learned.lookup(self.styles[0], self.method)

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
        check_field(name, value)
    settings = Settings(**{k: spec.pop(k) for k in list(spec) if k in Settings.__dataclass_fields__})
    return cls(settings=settings, **spec)


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
