"""The weight registry: verified loading, clear failures, deterministic stand-ins."""
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from core import weights
from core.architecture import MODELS
from core.errors import BrushworkError

ROOT = Path(__file__).resolve().parent.parent


def test_every_registered_file_matches_its_hash_and_models_md():
    table = (ROOT / "models" / "MODELS.md").read_text()
    for key, entry in weights.REGISTRY.items():
        name = MODELS[key].file
        assert name in table, f"{name} missing from models/MODELS.md"
        if entry.sha256:
            assert weights.sha256_of(ROOT / "models" / name) == entry.sha256
            assert re.search(rf"{re.escape(name)}`?\s*\|\s*`?{entry.sha256}", table)


def test_a_tampered_file_is_refused_naming_it_and_its_command(tmp_path):
    shutil.copy(ROOT / "models" / "vgg19_relu4_1.safetensors", tmp_path)
    with open(tmp_path / "vgg19_relu4_1.safetensors", "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\0\0\0\1")
    with pytest.raises(BrushworkError) as e:
        weights.load("vgg19", models_dir=tmp_path)
    assert "vgg19_relu4_1.safetensors" in str(e.value) and "convert_vgg19.py" in str(e.value)


def test_a_missing_file_is_refused_naming_it_and_its_command(tmp_path):
    with pytest.raises(BrushworkError, match=r"vgg19_relu4_1\.safetensors.*missing.*convert_vgg19"):
        weights.load("vgg19", models_dir=tmp_path)


def test_untrained_models_say_so():
    untrained = [k for k, e in weights.REGISTRY.items() if e.sha256 is None]
    for key in untrained:
        with pytest.raises(BrushworkError, match="no trained weights"):
            weights.load(key)
        w, trained = weights.resolve(key, allow_untrained=True)
        assert not trained and set(w) == set(MODELS[key].params())


def test_random_weights_are_deterministic_and_shaped():
    a, b = weights.random("linear_r41"), weights.random("linear_r41")
    for name, shape in MODELS["linear_r41"].params().items():
        assert a[name].shape == shape and a[name].dtype == np.float32
        assert np.array_equal(a[name], b[name])
    assert not np.array_equal(weights.random("decoder_r41")["dec3_1.weight"],
                              weights.random("ccpl_decoder_r41")["dec3_1.weight"])


def test_the_numpy_reader_matches_the_safetensors_library():
    """core reads safetensors without the library (Blender has no such package)."""
    library = pytest.importorskip("safetensors.numpy")
    from core import safetensors_file
    for key, entry in weights.REGISTRY.items():
        if entry.sha256:
            path = ROOT / "models" / MODELS[key].file
            ours, theirs = safetensors_file.read(path), library.load_file(str(path))
            assert ours.keys() == theirs.keys()
            for name in ours:
                assert ours[name].dtype == theirs[name].dtype and np.array_equal(ours[name], theirs[name])
