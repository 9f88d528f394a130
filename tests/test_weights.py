"""The weight registry: verified loading, clear failures, deterministic stand-ins."""
import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.nets import weights
from core.nets.architecture import MODELS
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
    # seeded by the key too: ccpl_r41, Linear's r41 module, is not a copy of linear_r41
    assert not np.array_equal(weights.random("linear_r41")["cnet.conv1.weight"],
                              weights.random("ccpl_r41")["cnet.conv1.weight"])


def test_the_numpy_reader_matches_the_safetensors_library():
    """core reads safetensors without the library (Blender has no such package)."""
    library = pytest.importorskip("safetensors.numpy")
    from core.nets import safetensors_file
    for key, entry in weights.REGISTRY.items():
        if entry.sha256:
            path = ROOT / "models" / MODELS[key].file
            ours, theirs = safetensors_file.read(path), library.load_file(str(path))
            assert ours.keys() == theirs.keys()
            for name in ours:
                assert ours[name].dtype == theirs[name].dtype and np.array_equal(ours[name], theirs[name])


def test_the_published_encoder_is_our_vgg19_up_to_one_positive_scale_per_channel():
    """The authors' normalised VGG (encoder_r31) and the Keras VGG-19 differ only by one
    positive factor per channel: the weights say so exactly, and so do the features."""
    torch = pytest.importorskip("torch")
    from core.backends.torch import nets
    from core.nets.architecture import ENCODERS
    from imaging import photo

    raw, pub = weights.load("vgg19"), weights.load("encoder_r31")
    convs = ENCODERS["r31"].convs()
    assert convs == ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"]
    m = weights.channel_scales(raw, pub, convs)
    m_in = np.ones(3)
    for name in convs:
        assert (m[name] > 0).all()
        rescaled = raw[f"{name}.weight"] * m_in[None, :, None, None] / m[name][:, None, None, None]
        assert np.abs(rescaled - pub[f"{name}.weight"]).max() <= 1e-6 * np.abs(pub[f"{name}.weight"]).max()
        assert np.allclose(raw[f"{name}.bias"] / m[name], pub[f"{name}.bias"], rtol=1e-5, atol=1e-7)
        m_in = m[name]
    x = torch.from_numpy(photo(64, 96, seed=3)).permute(2, 0, 1)[None]
    with torch.no_grad():
        a = nets.encoder(ENCODERS["r31"], raw)(x)
        b = nets.encoder(ENCODERS["r31"], pub)(x)
    assert float((a / torch.from_numpy(m["conv3_1"]).float().view(1, -1, 1, 1) - b).abs().max()) \
        < 1e-5 * float(b.abs().max())
    assert 0.3 < float(b[b > 0].mean()) < 3  # normalised: mean activation about 1, not hundreds


def test_the_r41_encoder_continues_the_published_one_exactly():
    """encoder_r41 = the published encoder to relu3_1, bit for bit, then our VGG-19 to
    relu4_1 up to one positive scale per channel (features and weights), normalised to a
    mean activation near 1; and `make_encoder_r41.build` reproduces the shipped file."""
    torch = pytest.importorskip("torch")
    from core.backends.torch import nets
    from core.nets.architecture import ENCODERS
    from core.training import encoder
    from imaging import photo

    raw, pub, r41 = weights.load("vgg19"), weights.load("encoder_r31"), weights.load("encoder_r41")
    for name in ENCODERS["r31"].params():
        assert np.array_equal(r41[name], pub[name])
    m = weights.channel_scales(raw, r41, ENCODERS["r41"].convs())
    assert all(np.allclose(m[n], 1, atol=1e-6) for n in ("conv3_2", "conv3_3", "conv3_4"))
    assert (m["conv4_1"] > 0).all()
    x = torch.from_numpy(photo(64, 96, seed=4)).permute(2, 0, 1)[None]
    with torch.no_grad():
        a = nets.encoder(ENCODERS["r41"], raw)(x)
        b = nets.encoder(ENCODERS["r41"], r41)(x)
    scale = torch.from_numpy(m["conv4_1"]).float().view(1, -1, 1, 1)
    assert float((a / scale - b).abs().max()) < 1e-5 * float(b.abs().max())
    assert 0.3 < float(b[b > 0].mean()) < 5
    mean = m["conv4_1"]  # the shipped file's mean activations, recovered from its weights
    rebuilt = encoder.build(raw, pub, mean)
    assert all(np.allclose(rebuilt[n], r41[n], rtol=1e-5, atol=1e-8) for n in r41)


def test_the_published_networks_are_converted_only_from_the_published_files(tmp_path):
    import sys
    sys.path.insert(0, str(ROOT / "scripts"))
    import convert_published

    source = tmp_path / "src"
    source.mkdir()
    (source / "vgg_r31.pth").write_bytes(b"not the authors' file")
    (source / "dec_r31.pth").write_bytes(b"nor this")
    assert convert_published.main(["--source", str(source), "--out", str(tmp_path)]) == 2
    assert not list(tmp_path.glob("*.safetensors"))
    shared = ROOT.parent / "shared" / "weights"
    if (shared / "vgg_r31.pth").is_file() and importlib.util.find_spec("torch"):  # where the sources are at hand: byte-identical output
        written = convert_published.convert(shared, tmp_path)
        for key in ("encoder_r31", "decoder_r31"):
            assert written[MODELS[key].file] == weights.REGISTRY[key].sha256
