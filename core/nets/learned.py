"""Learned paintings: ccpl-r31 tuned to one painting (core/training/learn.py), found again.

`brushwork learn PAINTING` writes a small fp16 safetensors file of the tuned tensors into a
per-user cache, named by the painting file's sha256; its header records that sha256, the
sha256 of each shipped base file it was tuned from, the steps and losses, and the sha256
of its own tensors. Every job that paints with that painting and ccpl-r31 then uses it
(`lookup`), unless the job says `learned: false`. A file whose painting or base model no
longer matches, or whose tensors do not match their recorded sha256, is not used (one
warning per process says why). Numpy only: the extension's onnxruntime jobs read it too.

The cache: $BRUSHWORK_LEARNED, else $XDG_CACHE_HOME/brushwork/learned, else
~/.cache/brushwork/learned.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..errors import BrushworkError, warn
from . import safetensors_file, weights

METHOD = "ccpl-r31"                         # the method a painting is learned for
KEYS = ("ccpl_r31", "ccpl_decoder_r31")      # its trainable parts: transformation, decoder
FORMAT = "brushwork-learned/1"

_warned: set = set()


def cache_dir() -> Path:
    if os.environ.get("BRUSHWORK_LEARNED"):
        return Path(os.environ["BRUSHWORK_LEARNED"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "brushwork" / "learned"


def painting_sha256(path) -> str:
    """The painting file's sha256 (its bytes: an edited or re-saved painting is another)."""
    return weights.sha256_of(Path(path))


def path_for(sha: str) -> Path:
    return cache_dir() / f"{sha}.safetensors"


def base_sha256() -> dict[str, str]:
    """The registry's sha256 of each shipped base file (`weights.load` checks the files)."""
    return {key: weights.REGISTRY[key].sha256 for key in KEYS}


def tensors_sha256(arrays: dict[str, np.ndarray]) -> str:
    """One sha256 over the tensors (names, dtypes, shapes and bytes, in name order)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def header(path: Path) -> dict:
    """A learned file's metadata, with `losses` and `base_sha256` decoded."""
    meta = safetensors_file.metadata(path)
    if meta.get("format") != FORMAT:
        raise BrushworkError(f"{path}: not a learned-painting file")
    meta["base_sha256"] = json.loads(meta.get("base_sha256", "{}"))
    meta["losses"] = json.loads(meta.get("losses", "{}"))
    return meta


def read(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """The learned float32 weights (registry key → name → array) of a file, checked:
    its tensors against the header's sha256, and every name and shape against the
    shipped model's table."""
    from .architecture import MODELS
    meta = header(path)
    arrays = safetensors_file.read(path)
    if tensors_sha256(arrays) != meta.get("tensors_sha256"):
        raise BrushworkError(f"{path}: its tensors do not match the sha256 in its header (a damaged file)")
    out: dict[str, dict[str, np.ndarray]] = {}
    for full, a in arrays.items():
        key, _, name = full.partition("/")
        out.setdefault(key, {})[name] = a.astype(np.float32)
    for key in KEYS:
        expected = MODELS[key].params()
        got = out.get(key, {})
        if set(got) != set(expected) or any(tuple(got[n].shape) != s for n, s in expected.items()):
            raise BrushworkError(f"{path}: {key}'s tensors are not those of the shipped model")
    return out


def _warn_once(key, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warn(message)


def lookup(style: str, method: str) -> dict[str, dict[str, np.ndarray]] | None:
    """The learned weights for the painting file `style` under `method`, or None: none
    learned, another method, or a file that no longer fits (a warning, once, says so)."""
    if method != METHOD:
        return None
    try:
        sha = painting_sha256(style)
    except OSError:
        return None
    path = path_for(sha)
    if not path.is_file():
        _stale_by_name(style, sha)
        return None
    try:
        meta = header(path)
        if meta.get("painting_sha256") != sha:
            raise BrushworkError(f"{path}: learned for another painting")
        if meta["base_sha256"] != base_sha256():
            _warn_once(("base", str(path)), f"{Path(style).name}: learned from other {METHOD} weights than "
                       f"the ones installed now; not used (learn it again: brushwork learn {style})")
            return None
        return read(path)
    except (BrushworkError, OSError, ValueError) as e:
        _warn_once(("bad", str(path)), f"{Path(style).name}: its learned weights are not used ({e})")
        return None


def _stale_by_name(style: str, sha: str) -> None:
    """A painting file changed since it was learned: a learned file for the same path and
    another sha256 is in the cache. Say once that the learned look is not used."""
    where = cache_dir()
    if not where.is_dir():
        return
    name = str(Path(style).expanduser().resolve())
    for path in where.glob("*.safetensors"):
        try:
            meta = safetensors_file.metadata(path)
        except (BrushworkError, OSError):
            continue
        if meta.get("format") == FORMAT and meta.get("painting_path") == name and meta.get("painting_sha256") != sha:
            _warn_once(("changed", name), f"{Path(style).name}: the painting changed since it was learned; "
                       f"the learned weights are not used (learn it again: brushwork learn {style})")
            return
