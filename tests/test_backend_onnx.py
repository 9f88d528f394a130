"""The onnxruntime backend: shipped graphs are a reproducible export, and the engine
paints the same picture on it as on torch (within 2/255), tiles, wraps and all."""
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from core import backends
from core.jobs import image as jobs
from core.backends.onnx import models as onnx_models
from core.nets import weights  # noqa: E402
from core.engine.stylizer import Settings, Stylizer  # noqa: E402
from core.errors import BrushworkError, Cancelled  # noqa: E402
from core.nets.architecture import WRAPS, Net  # noqa: E402
from imaging import photo, save  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
needs_torch = pytest.mark.skipif(not backends.has("torch"), reason="compares against the torch backend")


def test_shipped_graphs_are_a_fresh_export_and_registered():
    table = (ROOT / "models" / "MODELS.md").read_text()
    shipped = {onnx_models.file_name(n, w): (n, w) for n, w in onnx_models.shipped()}
    assert set(onnx_models.SHA256) == set(shipped)
    assert {"encoder_r31-both.onnx", "decoder_r31.decoder-x.onnx", "linear_r31.cnet-none.onnx"} <= set(shipped)
    for name, (net, wrap) in shipped.items():
        data = (ROOT / "models" / name).read_bytes()
        assert data == onnx_models.graph_bytes(net, wrap), f"{name} is stale: run scripts/export_onnx.py"
        digest = hashlib.sha256(data).hexdigest()
        assert digest == onnx_models.SHA256[name]
        assert re.search(rf"{re.escape(name)}`?\s*\|\s*`?{digest}", table), f"{name} missing from MODELS.md"


def test_a_shipped_graph_runs_in_plain_onnxruntime():
    """Standard ONNX: the weights are found in the safetensors file beside it."""
    import onnxruntime as ort
    s = ort.InferenceSession(str(ROOT / "models" / "encoder_r31-none.onnx"), providers=["CPUExecutionProvider"])
    y = s.run(None, {"x": photo(37, 50)[None]})[0]
    assert y.shape == (1, 10, 13, 256) and y.std() > 1  # ceil-mode pooling, trained VGG features


@needs_torch
@pytest.mark.parametrize("net", [Net.encoder("r31"), Net.encoder("r41"), Net.of("decoder_r31", "decoder"),
                                 Net.of("linear_r31", "cnet"), Net.of("linear_r31", "snet"),
                                 Net.of("decoder_r41", "decoder"), Net.of("ccpl_r41", "cnet"),
                                 Net.of("ccpl_r41", "snet")], ids=str)
def test_each_net_matches_torch_in_every_wrap_mode(net):
    from core.backends.onnx.backend import OnnxBackend
    from core.backends.torch.backend import TorchBackend
    key = net.key
    w, trained = weights.resolve(key, allow_untrained=True)
    torch_b = TorchBackend({key: w}, "cpu")
    onnx_b = OnnxBackend({key: w}, "cpu", () if trained else (key,))
    part = net.part
    cin = 3 if net.preprocess else [layer for layer in part.layers if layer[0] == "conv"][0][2]
    x = np.random.default_rng(0).random((1, 29, 42, cin), dtype=np.float32)
    for wrap in WRAPS:
        a, b = torch_b.run(net, x, wrap), onnx_b.run(net, x, wrap)
        assert a.shape == b.shape
        assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(a).max()), (net, wrap)


@pytest.mark.parametrize("pad", ["image", "zero"])
def test_the_fused_upsampling_graph_equals_the_published_resize_then_conv(pad):
    """Each nearest ×2 + padded 3×3 conv runs as one 2×2 conv at the low resolution and its
    phases interleaved (two transposes): the same numbers as the Resize, Pad and Conv it replaced (odd and even
    sizes, every wrap; zero padding too, though the shipped decoders reflect)."""
    import onnxruntime as ort

    from core.nets.architecture import Part
    from core.backends.onnx.graph import model_bytes
    part = Part((("conv", "a", 5, 6, 3, pad), ("relu",), ("up",), ("conv", "b", 6, 4, 3, pad), ("relu",),
                 ("up",), ("conv", "c", 4, 3, 3, pad)))
    rng = np.random.default_rng(7)
    w = {n: rng.standard_normal(shape).astype(np.float32) for n, shape in part.params().items()}
    for wrap in WRAPS:
        fused, published = model_bytes(part, wrap, w), model_bytes(part, wrap, w, fuse_up=False)
        assert b"Transpose" in fused and b"Resize" not in fused and b"Resize" in published
        runs = [ort.InferenceSession(m, providers=["CPUExecutionProvider"]) for m in (fused, published)]
        for h, wd in ((7, 10), (6, 9), (2, 3)):
            x = rng.random((2, h, wd, 5), dtype=np.float32)
            a, b = (s.run(None, {"x": x})[0] for s in runs)
            assert a.shape == b.shape == (2, 4 * h, 4 * wd, 3)
            assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(b).max()), (wrap, h, wd)


@pytest.fixture(scope="module")
def styles():
    return [photo(96, 128, seed=3)[..., ::-1].copy(), photo(80, 112, seed=5)]


def _paint(backend, method, styles, settings):
    st = Stylizer(method, "cpu", allow_untrained=True, backend=backend)
    sides = [st.style(s) for s in styles]
    return np.clip(st.run(photo(200, 264), sides, settings), 0, 1)


@needs_torch
@pytest.mark.parametrize("method,settings", [
    ("linear-r31", Settings(tile=128, wrap="both")),                                  # shipped graphs, tiles
    ("wct-r31", Settings(tile=0, wrap="x", strength=0.6)),
    ("linear-r31", Settings(tile=128, style_weights=[0.3, 0.7], style_scale=1.5)),    # style mixing
    ("ccpl", Settings(tile=128, wrap="none", strength=0.8)),                          # untrained: in-memory graphs
])
def test_the_engine_paints_the_same_on_both_backends(styles, method, settings):
    mixed = settings.style_weights is not None
    use = styles if mixed else styles[:1]
    a = _paint("torch", method, use, settings)
    b = _paint("onnx", method, use, settings)
    assert a.std() > 0.03
    assert np.abs(a - b).max() < 2 / 255


@needs_torch
def test_jobs_with_colour_preservation_agree_on_both_backends(tmp_path, styles):
    content = save(tmp_path / "content.png", photo(160, 224, seed=7))
    style = save(tmp_path / "style.png", styles[0])
    out = {}
    for b in ("torch", "onnx"):
        job = jobs.Job(content=content, styles=[style], output=str(tmp_path / f"{b}.png"), method="linear-r31",
                       settings=Settings(tile=128), preserve_color=True, device="cpu", backend=b)
        jobs.run(job)
        from core.media.image_io import read_image
        out[b] = read_image(job.output).color
    assert np.abs(out["torch"] - out["onnx"]).max() <= 2 / 255


def test_cancel_stops_at_the_same_point_on_both_backends(styles):
    polls = {}
    for b in ["onnx"] + (["torch"] if backends.has("torch") else []):
        st = Stylizer("wct-r31", "cpu", backend=b)
        side = st.style(styles[0])
        n = [0]

        def cancel():
            n[0] += 1
            return n[0] >= 4
        with pytest.raises(Cancelled):
            st.run(photo(300, 300), [side], Settings(tile=128), cancel=cancel)
        polls[b] = n[0]
    assert polls["onnx"] == 4 and len(set(polls.values())) == 1


def test_backend_choice_auto_and_errors(monkeypatch):
    with pytest.raises(BrushworkError, match="backend gpu: choose one of auto, torch, onnx"):
        backends.resolve("gpu")
    real = backends.has
    monkeypatch.setattr(backends, "has", lambda m: m != "torch" and real(m))
    assert backends.resolve("auto") == "onnx"
    with pytest.raises(BrushworkError, match="backend torch: torch is not installed"):
        backends.resolve("torch")
    assert Stylizer("wct-r31", "cpu").backend.name == "onnx"  # auto: torch cannot be found


def test_a_tampered_graph_is_refused(tmp_path, monkeypatch, styles):
    for f in (ROOT / "models").iterdir():
        shutil.copy(f, tmp_path / f.name)
    path = tmp_path / "decoder_r31.decoder-none.onnx"
    path.write_bytes(path.read_bytes().replace(b"brushwork", b"brushw0rk", 1))
    monkeypatch.setattr(weights, "MODELS_DIR", tmp_path)
    st = Stylizer("wct-r31", "cpu", backend="onnx")
    with pytest.raises(BrushworkError, match=r"decoder_r31\.decoder-none\.onnx: sha256 .*export_onnx\.py"):
        st.run(photo(64, 64), [st.style(styles[0])], Settings())


BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'cv2', 'OpenEXR', 'safetensors'):
            raise ImportError(f'{name} blocked for this test')
sys.meta_path.insert(0, _Block())
from core.app.cli import main
rc = main(sys.argv[1:])
assert not any(m.split('.')[0] in ('torch', 'cv2', 'OpenEXR', 'safetensors') for m in sys.modules)
sys.exit(rc)
"""


def test_core_runs_with_numpy_pillow_and_onnxruntime_alone(tmp_path, styles):
    """No torch, OpenCV, OpenEXR or safetensors: the check and a whole job still work."""
    content = save(tmp_path / "content.png", photo(150, 200, seed=2))
    style = save(tmp_path / "style.jpg", styles[0])
    run = lambda *a: subprocess.run([sys.executable, "-c", BLOCK, *a], cwd=ROOT, capture_output=True,  # noqa: E731
                                    text=True, timeout=300)
    check = run("check")
    assert check.returncode == 0, check.stderr
    assert '"backend": "onnx"' in check.stdout and '"torch": null' in check.stdout
    done = run("stylize", content, style, "-o", str(tmp_path / "out.png"), "--method", "wct-r31",
               "--tile", "128", "--quiet")
    assert done.returncode == 0, done.stderr
    from core.media.image_io import read_image
    out = read_image(str(tmp_path / "out.png"))
    assert out.color.shape == (150, 200, 3) and out.color.std() > 0.05
    refused = run("stylize", content, style, "-o", str(tmp_path / "out.exr"), "--quiet")
    assert refused.returncode == 2 and "out.exr: EXR needs the OpenEXR package" in refused.stderr


def test_the_job_spec_and_the_cli_choose_the_backend(tmp_path, styles, capfd):
    import io
    import json

    from core.app import worker
    from core.app.cli import main
    content = save(tmp_path / "content.png", photo(48, 64))
    style = save(tmp_path / "style.png", styles[0])
    spec = {"content": content, "styles": [style], "output": str(tmp_path / "w.png"), "method": "wct-r31",
            "backend": "onnx"}
    out = io.StringIO()
    assert worker.main(io.StringIO(json.dumps(spec)), out) == 0
    result = json.loads(out.getvalue().splitlines()[-1])
    assert result["status"] == "ok" and result["backend"] == "onnx"
    out = io.StringIO()
    assert worker.main(io.StringIO(json.dumps(dict(spec, backend="gpu", output=str(tmp_path / "x.png")))), out) == 2
    assert "backend gpu: choose one of auto, torch, onnx" in json.loads(out.getvalue().splitlines()[-1])["message"]
    assert not (tmp_path / "x.png").exists()
    assert main(["stylize", content, style, "-o", str(tmp_path / "c.png"), "--method", "wct-r31",
                 "--backend", "onnx", "--quiet"]) == 0
    with pytest.raises(SystemExit) as e:
        main(["stylize", content, style, "-o", str(tmp_path / "d.png"), "--backend", "tf"])
    assert e.value.code == 2
    assert "argument --backend: invalid choice: 'tf'" in capfd.readouterr().err


def test_graphs_are_valid_onnx():
    """The hand-written protobuf is what the `onnx` package's checker accepts (when installed)."""
    onnx = pytest.importorskip("onnx")
    for name in onnx_models.SHA256:
        onnx.checker.check_model(str(ROOT / "models" / name), full_check=True)  # shapes inferred, data found
        model = onnx.load(str(ROOT / "models" / name), load_external_data=False)
        assert model.opset_import[0].version == 17 and model.graph.input[0].name == "x"


EXTENSION = BLOCK.replace("('torch', 'cv2', 'OpenEXR', 'safetensors')", "('torch', 'cv2', 'safetensors', 'imageio_ffmpeg')")


def test_the_extension_runs_a_steadied_sequence_and_a_render_without_opencv(tmp_path):
    """What the zip bundles (onnxruntime, Pillow, OpenEXR) runs Stylize Animation's job: 16-bit
    render PNGs, Vector passes, numpy warping; the MP4 is skipped with a warning (no ffmpeg)."""
    pytest.importorskip("cv2", reason="writes the 16-bit test renders")
    from core.media import colour
    from core.scene import motion
    from core.media.image_io import Picture, read_image, write_image, write_render_passes
    photo = colour.to_working(read_image(str(ROOT / "tests" / "data" / "photo.jpg")).color, False)
    # A camera drifting 2 px right and 1 px down a frame over the photo: motion known exactly.
    maps = [np.array([[1, 0, 8 + 2 * t], [0, 1, 8 + t]], np.float64) for t in range(4)]
    frames = [photo[8 + t:8 + t + 96, 8 + 2 * t:8 + 2 * t + 128] for t in range(4)]
    (tmp_path / "render").mkdir()
    (tmp_path / "passes").mkdir()
    for t, f in enumerate(frames):  # Blender's display saves are 16-bit PNG
        write_image(str(tmp_path / "render" / f"frame_{t + 1:05d}.png"), Picture(f, np.dtype(np.uint16), False, ""))
        write_render_passes(str(tmp_path / "passes" / f"frame_{t + 1:05d}.exr"),
                            {"Vector": motion.affine_vectors(maps, t, f.shape[:2])})
    run = subprocess.run([sys.executable, "-c", EXTENSION, "frames", str(tmp_path / "render"),
                          str(ROOT / "tests" / "data" / "painting.jpg"), "-o", str(tmp_path / "out"),
                          "--vectors", str(tmp_path / "passes"), "--video", str(tmp_path / "out.mp4"),
                          "--method", "wct-r31", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "16-bit PNG read at 8-bit precision" in run.stderr and "MP4 needs the imageio-ffmpeg" in run.stderr
    flicker, alone = (float(x) for x in run.stdout.split("0-255): ")[1].replace(")", "").split(" (frames alone: "))
    assert flicker < 0.6 * alone
    assert len(list((tmp_path / "out").glob("*.png"))) == 4 and not (tmp_path / "out.mp4").exists()


def test_a_movie_without_ffmpeg_or_opencv_is_one_clear_line(tmp_path):
    run = subprocess.run([sys.executable, "-c", EXTENSION, "video", str(ROOT / "tests" / "data" / "handheld.mp4"),
                          str(ROOT / "tests" / "data" / "painting.jpg"), "-o", str(tmp_path / "o.mp4"), "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "decoding and encoding video needs the imageio-ffmpeg package" in run.stderr
    assert not (tmp_path / "o.mp4").exists()
