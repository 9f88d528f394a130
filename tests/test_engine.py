"""The engine's promises: exact tiling, seamless wraps, controls that do what they say.

Untrained (deterministic random) networks are enough here: tiling and wrap are about
the plumbing, and random networks are as sensitive to a wrong halo as trained ones.
Without torch (the torch-free CI step) they run on the onnxruntime backend.
"""
import numpy as np
import pytest

from core.nets import weights
from core.nets.architecture import ENCODERS, MODELS, Net
from core.media.colour import luminance
from core.backends.base import Backend
from core.engine.stylizer import Settings, Stylizer
from core.errors import BrushworkError
from imaging import photo as _photo


def _tileable(h, w):
    """A periodic texture: integer numbers of waves across, noise and a wrapped blob."""
    y, x = np.mgrid[0:h, 0:w]
    tx, ty = 2 * np.pi * x / w, 2 * np.pi * y / h
    img = np.stack([0.5 + 0.3 * np.sin(3 * tx) * np.cos(2 * ty), 0.5 + 0.3 * np.cos(5 * tx + ty),
                    0.4 + 0.3 * np.sin(2 * ty)], -1)
    img[: h // 5, : w // 6] = [0.9, 0.8, 0.1]
    img = np.roll(img, (-h // 10, -w // 12), (0, 1))  # the blob straddles both seams
    img += np.random.default_rng(1).normal(0, 0.03, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def stylizers():
    return {m: Stylizer(m, "cpu", allow_untrained=True)
            for m in ("linear-r41", "linear-r31", "ccpl", "wct", "wct-r31")}


@pytest.fixture(scope="module")
def style():
    return _photo(96, 128, seed=3)[..., ::-1].copy()


@pytest.mark.parametrize("method", ["linear-r41", "linear-r31", "wct", "wct-r31"])  # ccpl runs as linear-r41
@pytest.mark.parametrize("wrap", ["none", "x", "both"])
def test_tiled_equals_whole_image(stylizers, style, method, wrap):
    st = stylizers[method]
    img = _photo(272, 400)  # not a multiple of the tile: ragged last tiles
    side = st.style(style)
    whole = st.run(img, [side], Settings(tile=0, wrap=wrap))
    tiled = st.run(img, [side], Settings(tile=128, wrap=wrap))
    assert whole.shape == img.shape
    assert whole.std() > 0.05  # a picture with contrast, so the comparison means something
    diff = np.abs(np.clip(whole, 0, 1) - np.clip(tiled, 0, 1))
    assert diff.max() < 1 / 255 / 4
    assert np.abs(whole - tiled).max() < 1e-4 * max(1.0, np.abs(whole).max())


def test_halo_is_the_reach_of_a_window_edge():
    """A window's edge spoils exactly `reach` input pixels of a network's output: rows
    further in equal the whole input's (so `halo` makes a tile's core exact) and the row
    before them does not (so the halo is not wider than it needs to be)."""
    torch = pytest.importorskip("torch")
    from core.backends.torch import nets
    cases = [(ENCODERS["r41"], nets.encoder(ENCODERS["r41"], weights.random("vgg19")), 3, 1.0),
             (ENCODERS["r31"], nets.encoder(ENCODERS["r31"], weights.random("vgg19")), 3, 1.0)]
    for key in ("decoder_r31", "decoder_r41"):
        part = MODELS[key].parts["decoder"]
        cases.append((part, nets.build(part, weights.random(key)), part.layers[0][2], 10.0))
    part = MODELS["linear_r31"].parts["cnet"]
    cases.append((part, nets.build(part, weights.random("linear_r31")), 256, 1.0))
    for part, net, channels, gain in cases:
        step = round(part.stride) if part.stride >= 1 else 1  # window starts on the pools' grid
        start = 2 * step * 4
        x = gain * torch.rand(1, channels, 24 * step * 2, 24 * step * 2, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            whole, window = net(x), net(x[:, :, start:])
        first = round(start / part.stride)  # the window's first output row in the whole output
        same = (window[0] - whole[0, :, first:]).abs().amax((0, 2)) <= 1e-5 * whole.abs().max()
        spoiled = int(torch.nonzero(same).flatten()[0])
        assert spoiled * part.stride == part.reach, (part.layers[0], spoiled, part.reach)
        assert bool(same[spoiled:].all())
        assert part.halo(step) >= part.reach and part.halo(step) - part.reach < step


def test_wrap_both_is_tileable_and_shift_equivariant(stylizers, style):
    st = stylizers["linear-r41"]
    img = _tileable(192, 256)
    side = st.style(style)

    def seams(out):
        """Mean jump across each edge over the median / max jump between interior rows."""
        out = np.clip(out, 0, 1)
        cols = np.abs(np.diff(out, axis=1)).mean(axis=(0, 2))
        rows = np.abs(np.diff(out, axis=0)).mean(axis=(1, 2))
        sx, sy = np.abs(out[:, 0] - out[:, -1]).mean(), np.abs(out[0] - out[-1]).mean()
        return max(sx / np.median(cols), sy / np.median(rows)), max(sx / cols.max(), sy / rows.max())

    out = st.run(img, [side], Settings(tile=128, wrap="both"))
    # A tileable texture stays tileable: the jump across each edge is like that between
    # neighbouring rows inside, while without the wrap the edges show.
    typical, worst = seams(out)
    assert typical <= 1.5 and worst <= 1.0
    assert seams(st.run(img, [side], Settings(tile=128, wrap="none")))[0] > 2.5
    out = np.clip(out, 0, 1)
    # Circular means the picture has no edges at all: a shift by a multiple of the
    # stride shifts the result, exactly.
    shifted = np.clip(st.run(np.roll(img, (64, 96), (0, 1)), [side], Settings(tile=128, wrap="both")), 0, 1)
    assert np.abs(shifted - np.roll(out, (64, 96), (0, 1))).max() < 1e-4


def test_wrap_x_joins_the_meridian_only(stylizers, style):
    st = stylizers["linear-r41"]
    img = _photo(128, 256)
    side = st.style(style)
    out = np.clip(st.run(img, [side], Settings(tile=0, wrap="x")), 0, 1)
    shifted = np.clip(st.run(np.roll(img, 64, 1), [side], Settings(tile=0, wrap="x")), 0, 1)
    assert np.abs(shifted - np.roll(out, 64, 1)).max() < 1e-4
    down = np.clip(st.run(np.roll(img, 64, 0), [side], Settings(tile=0, wrap="x")), 0, 1)
    assert np.abs(down - np.roll(out, 64, 0)).max() > 0.05  # y is not wrapped


def test_strength_blends_towards_the_reconstruction(stylizers, style):
    st = stylizers["linear-r41"]
    img = _photo(128, 160)
    side = st.style(style)
    full = st.run(img, [side], Settings(strength=1.0))
    none = st.run(img, [side], Settings(strength=0.0))
    half = st.run(img, [side], Settings(strength=0.5))
    # strength 0 is the decoder's reconstruction of the content: no style at all
    other = st.run(img, [st.style(_photo(96, 96, seed=11))], Settings(strength=0.0))
    assert np.abs(none - other).max() < 1e-5
    assert np.abs(full - none).mean() > 0.01
    d_full, d_none = np.abs(half - full).mean(), np.abs(half - none).mean()
    assert d_full > 0.001 and d_none > 0.001


def test_style_mixing_and_cache(stylizers, style):
    st = stylizers["ccpl"]
    other = _photo(80, 80, seed=5)
    a, b = st.style(style), st.style(other)
    assert st.style(style.copy()) is a  # cached by content, not identity
    img = _photo(96, 96)
    only_a = st.run(img, [a], Settings())
    mix_a = st.run(img, [a, b], Settings(style_weights=[1.0, 0.0]))
    mix = st.run(img, [a, b], Settings(style_weights=[0.5, 0.5]))
    assert np.abs(only_a - mix_a).max() < 1e-5
    assert np.abs(mix - only_a).mean() > 1e-3
    with pytest.raises(BrushworkError, match="style weights"):
        st.run(img, [a, b], Settings(style_weights=[1.0]))


def test_style_scale_keeps_the_size(stylizers, style):
    st = stylizers["linear-r31"]
    img = _photo(128, 192)
    side = st.style(style)
    big = st.run(img, [side], Settings(style_scale=2.0))
    assert big.shape == img.shape
    assert np.abs(big - st.run(img, [side], Settings())).mean() > 0.01


def test_bad_styles_and_settings_are_refused(stylizers):
    st = stylizers["linear-r41"]
    with pytest.raises(BrushworkError, match="at least 64"):
        st.style(_photo(40, 200), "tiny.png")
    with pytest.raises(BrushworkError, match="flat"):
        st.style(np.full((128, 128, 3), 0.4, np.float32), "flat.png")
    with pytest.raises(BrushworkError, match="strength"):
        Settings(strength=1.5).check()
    with pytest.raises(BrushworkError, match="tile"):
        Settings(tile=16).check()


def test_preserve_color_keeps_the_content_chroma():
    from core.media.colour import preserve_color
    content = _photo(64, 64)
    stylized = _photo(64, 64, seed=9)[..., ::-1].copy() * 0.8
    out = preserve_color(stylized, content)
    inside = (out > 0.01).all(-1) & (out < 0.99).all(-1)
    chroma_out = out - luminance(out)[..., None]
    chroma_in = content - luminance(content)[..., None]
    assert np.abs(chroma_out - chroma_in)[inside].max() < 1e-5
    assert np.abs(luminance(out) - luminance(stylized))[inside].max() < 1e-5


def test_untrained_weights_are_refused_without_the_flag(monkeypatch):
    """Every method ships trained today: a model the registry knows no weights for stands
    in for the next one."""
    from core.nets import weights
    monkeypatch.setitem(weights.REGISTRY, "linear_r41", weights.Entry(None, "not trained"))
    with pytest.raises(BrushworkError, match="random weights run only where allowed") as e:
        Stylizer("linear-r41", "cpu", allow_untrained=False)
    assert e.value.setting == "allow_untrained"  # the CLI names its --allow-untrained


def test_every_method_has_words_for_front_ends_and_back():
    """core/engine/names.py (import-free, read by the add-on) lists exactly the methods,
    with distinct stored numbers."""
    from core.engine.methods import METHODS
    from core.engine.names import METHOD_INFO
    assert set(METHOD_INFO) == set(METHODS)
    numbers = [number for number, _, _ in METHOD_INFO.values()]
    assert len(set(numbers)) == len(numbers) and 0 not in numbers  # 0 is the menu's "Best available"
    from core.engine.names import METHOD_FILES
    from core.nets.architecture import MODELS
    assert METHOD_FILES == {n: tuple(MODELS[k].file for k in m.models) for n, m in METHODS.items()}
    for name, m in METHODS.items():  # shipped files = trained networks, so the files tell
        shipped = all((weights.MODELS_DIR / f).is_file() for f in METHOD_FILES[name])
        assert shipped == all(weights.is_trained(k) for k in m.models), name


def test_batched_tiles_equal_single_tiles(stylizers, style):
    st = stylizers["linear-r31"]
    img = _photo(320, 384)
    side = st.style(style)
    single = st.run(img, [side], Settings(tile=128))
    st.batch = 3
    try:
        batched = st.run(img, [side], Settings(tile=128))
    finally:
        st.batch = 1
    assert np.abs(single - batched).max() < 1e-5


def test_progress_is_monotonic_and_cancel_stops(stylizers, style):
    from core.errors import Cancelled
    st = stylizers["linear-r31"]
    img = _photo(256, 256)
    side = st.style(style)
    seen = []
    st.run(img, [side], Settings(tile=128), progress=lambda f, s: seen.append((f, s)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"encode", "statistics", "decode"} <= {s for _, s in seen}
    calls = []
    with pytest.raises(Cancelled):
        st.run(img, [side], Settings(tile=128), cancel=lambda: calls.append(1) or len(calls) > 2)


def test_memory_mapped_buffers_give_the_same_picture(stylizers, style, monkeypatch, tmp_path):
    """Past the size limit features (in float16) and result live in anonymous temp files:
    the same picture to far below 1/255, the result comes back still mapped (16K is written
    out band by band, never copied whole), and no file is ever visible in the temp folder,
    even while the result lives."""
    import tempfile

    from core.mem import buffers
    st = stylizers["linear-r41"]
    img = _photo(200, 264)
    side = st.style(style)
    in_memory = st.run(img, [side], Settings(tile=128))
    assert not buffers.is_mapped(in_memory)
    monkeypatch.setattr(buffers, "IN_MEMORY_BYTES", 1024)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    mapped = st.run(img, [side], Settings(tile=128))
    assert buffers.is_mapped(mapped) and mapped.shape == img.shape
    diff = np.abs(np.clip(in_memory, 0, 1) - np.clip(mapped, 0, 1))
    assert 0 < diff.max() < 1 / 255 / 4  # float16 features did round, and it does not show
    assert list(tmp_path.iterdir()) == []


def test_features_in_memory_as_float16_between_the_limits(stylizers, style, monkeypatch):
    """Past the limit in float32 but within it in float16 (a 4K relu3_1 map), features stay
    in memory as float16, not in a file; the picture is the same as with float32 features."""
    from core.mem import buffers
    st = stylizers["linear-r31"]
    img = _photo(200, 264)
    side = st.style(style)
    reference = st.run(img, [side], Settings(tile=128))
    made = []
    real = buffers.buffer

    def spy(shape, name="buffer", dtype=np.float32, mapped_dtype=None):
        made.append(arr := real(shape, name, dtype, mapped_dtype))
        return arr
    feature_bytes = 50 * 66 * 256 * 4  # the relu3_1 map of 200×264, float32
    monkeypatch.setattr(buffers, "IN_MEMORY_BYTES", feature_bytes // 2)
    monkeypatch.setattr("core.engine.stylizer.buffer", spy)
    half = st.run(img, [side], Settings(tile=128))
    feats = next(a for a in made if a.ndim == 3 and a.shape[-1] == 256)
    assert feats.dtype == np.float16 and not buffers.is_mapped(feats)
    diff = np.abs(np.clip(reference, 0, 1) - np.clip(half, 0, 1))
    assert 0 < diff.max() < 1 / 255 / 4


@pytest.mark.parametrize("runtime", ["numpy", "torch", "onnx"])
def test_float16_conversions_agree_whichever_runtime_converts(runtime):
    """`buffers.store` / `as_float32` give NumPy's values whether NumPy, torch or an
    onnxruntime Cast converts; values beyond float16's range are clipped, strided targets
    are filled."""
    from core.mem import buffers
    if runtime == "torch":
        pytest.importorskip("torch")
        from core.backends.torch.backend import _cast as fast
    elif runtime == "onnx":
        pytest.importorskip("onnxruntime")
        from core.backends.onnx.backend import OnnxBackend
        fast = OnnxBackend({}, "cpu").cast
    else:
        fast = None
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 300, (7, 9, 5)).astype(np.float32)
    src[0, 0, 0] = 1e6
    dst = np.zeros((10, 12, 5), np.float16)
    with buffers.fast_cast(fast):
        buffers.store(dst[2:9, 1:10], src)
        back = buffers.as_float32(dst[2:9, 1:10])
    expected = np.minimum(src, np.finfo(np.float16).max).astype(np.float16)
    assert np.array_equal(dst[2:9, 1:10], expected) and not dst[:2].any() and not dst[:, 10:].any()
    assert back.dtype == np.float32 and back.flags.c_contiguous and back.shape == (7, 9, 5)
    assert np.array_equal(back, expected.astype(np.float32))


def test_result_is_written_in_bands_from_a_mapped_buffer(tmp_path, monkeypatch):
    """A memory-mapped float result becomes the file's storage type band by band, with the
    same bytes as converting it whole (alpha and channel order included)."""
    from core.mem import buffers
    from core.media import image_io
    from core.media.image_io import Picture, read_image, write_image
    monkeypatch.setattr(buffers, "IN_MEMORY_BYTES", 1024)
    rng = np.random.default_rng(3)
    rgba = rng.uniform(-0.1, 1.1, (301, 97, 4)).astype(np.float32)
    mapped = buffers.buffer(rgba.shape, "test")
    mapped[:] = rgba
    assert buffers.is_mapped(mapped)
    seven = lambda n, row_bytes: ((a, min(n, a + 7)) for a in range(0, n, 7))  # noqa: E731
    monkeypatch.setattr(image_io, "bands", seven)
    write_image(tmp_path / "a.png", Picture(mapped, np.uint8, linear=False))
    back = read_image(tmp_path / "a.png").pixels
    assert np.array_equal(np.round(back * 255), np.rint(np.clip(rgba, 0, 1) * 255))


def test_wct_gives_content_features_the_style_statistics(stylizers, style):
    """Whitening–colouring: transformed features have the style's mean and covariance."""
    from core.engine.methods import Transform, channel_covariance, content_side

    st = stylizers["wct-r31"]
    side = st.style(style)
    feats = st.backend.run(Net.encoder("r31"), _photo(128, 160))
    content = content_side(st.method, st.backend, st.weights, feats, "none", 0)
    out = Transform(st.method, st.weights, content, [(side, 1.0)], 1.0)(feats)
    style_feats = st.backend.run(Net.encoder("r31"), style)
    s_mean = style_feats.reshape(-1, style_feats.shape[-1]).mean(0)
    s_cov = channel_covariance(style_feats, s_mean)
    o_mean = out.reshape(-1, out.shape[-1]).mean(0)
    o_cov = channel_covariance(out, o_mean)
    assert np.allclose(o_mean, s_mean, atol=1e-3 * np.abs(s_mean).max())
    # the top of the spectrum (what whitening keeps) matches the style's
    top = lambda c: np.sort(np.linalg.eigvalsh(c))[::-1][:16]
    assert np.allclose(top(o_cov), top(s_cov), rtol=0.02)
    assert not np.allclose(top(channel_covariance(feats, feats.reshape(-1, feats.shape[-1]).mean(0))),
                           top(s_cov), rtol=0.2)


class _Deferred(Backend):
    """A backend that queues like a GPU: `submit` returns at once and the work happens
    only when the result is asked for, so the engine's pipelining order is exercised."""

    def __init__(self, inner):
        self.inner, self.batch, self.name, self.queued = inner, 2, "deferred", 0

    def run(self, net, x, wrap="none", affine=None, host=None):
        return self.inner.run(net, x, wrap, affine=affine)

    def submit(self, net, x, wrap="none", affine=None, host=None):
        self.queued += 1
        x = x.copy()
        return lambda: self.inner.run(net, x, wrap, affine=affine)


@pytest.mark.parametrize("method", ["linear-r31", "ccpl"])
def test_queued_batches_give_the_same_picture(stylizers, style, method):
    """Batches queued ahead (submit, then collect after the next is queued) and tiles
    blended in that order: the same picture as one call at a time."""
    st = stylizers[method]
    img = _photo(200, 330)
    side = st.style(style)
    plain = st.run(img, [side], Settings(tile=128))
    deferred = Stylizer(method, "cpu", allow_untrained=True, backend=_Deferred(st.backend))
    queued = deferred.run(img, [deferred.style(style)], Settings(tile=128))
    assert deferred.backend.queued > 4
    assert np.abs(plain - queued).max() < 1e-5


@pytest.mark.parametrize("wrap", ["none", "x", "both"])
def test_transform_folded_into_the_decoder_equals_applying_it(stylizers, wrap):
    """The torch backend folds Linear's/WCT's affine map into the decoder's first
    convolution; the result equals mapping the features, then decoding."""
    pytest.importorskip("torch")
    from core.backends.torch.backend import TorchBackend
    st = stylizers["linear-r41"]
    backend = TorchBackend(st.weights, "cpu")
    rng = np.random.default_rng(0)
    feats = rng.uniform(0, 3, (2, 13, 17, 512)).astype(np.float32)
    mt = (np.eye(512) + rng.normal(0, 0.05, (512, 512))).astype(np.float32)
    v = rng.normal(0, 0.5, 512).astype(np.float32)
    dec = Net.of(st.method.decoder, "decoder")
    mapped = backend.run(dec, feats @ mt + v, wrap)
    folded = backend.run(dec, feats, wrap, affine=(mt, v))
    assert np.abs(folded - mapped).max() < 1e-4 * np.abs(mapped).max()


def _photo_and_painting():
    from pathlib import Path

    from core.media import colour
    from core.media.image_io import read_image
    data = Path(__file__).parent / "data"
    return (colour.to_working(read_image(data / "photo.jpg").color, False),
            colour.to_working(read_image(data / "painting.jpg").color, False))


def test_half_precision_stays_within_2_of_255_of_fp32():
    """What a GPU runs by default (fp16, the picture-side convolutions at fp32 accuracy)
    against fp32, on the trained networks and a real photo: within 1/255 everywhere. bf16
    (the fast opt-in on CPUs with AMX) is held to what docs/PERFORMANCE.md reports for it
    on the validation split: a small mean, a few /255 at the worst pixel."""
    pytest.importorskip("torch")
    img, sty = _photo_and_painting()
    out = {}
    for precision in ("fp32", "fp16", "bf16"):
        st = Stylizer("linear-r31", "cpu", backend="torch", precision=precision)
        out[precision] = np.clip(st.run(img, [st.style(sty)], Settings(tile=128)), 0, 1)
    assert out["fp32"].std() > 0.05
    fp16 = np.abs(out["fp16"] - out["fp32"]) * 255
    bf16 = np.abs(out["bf16"] - out["fp32"]) * 255
    assert 0 < fp16.max() <= 1.0  # fp16 did run (it differs), and within 1/255 everywhere
    assert bf16.max() > fp16.max() and bf16.mean() <= 0.25 and bf16.max() <= 6.0


def test_wct_runs_fp32_unless_fp16_is_named_and_never_bf16():
    """WCT's whitening magnifies rounding (31/255 in bf16 on a flat graphic), so `auto`
    gives it fp32 on every device, fp16 by name stays close, bf16 is refused by name."""
    pytest.importorskip("torch")
    from core.errors import BrushworkError
    assert Stylizer("wct-r31", "cpu", backend="torch").backend.precision == "fp32"
    with pytest.raises(BrushworkError, match="precision bf16: method wct-r31 whitens"):
        Stylizer("wct-r31", "cpu", backend="torch", precision="bf16")
    img, sty = _photo_and_painting()
    out = {}
    for precision in ("fp32", "fp16"):
        st = Stylizer("wct-r31", "cpu", backend="torch", precision=precision)
        assert st.backend.precision == precision
        out[precision] = np.clip(st.run(img, [st.style(sty)], Settings(tile=128)), 0, 1)
    assert 0 < np.abs(out["fp16"] - out["fp32"]).max() * 255 <= 1.0


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_tiled_equals_whole_image_in_half_precision(precision):
    """Tiles stay invisible at the precisions a user can pick, within 1/255."""
    pytest.importorskip("torch")
    st = Stylizer("linear-r31", "cpu", backend="torch", precision=precision)
    img = _photo(272, 400)
    side = st.style(_photo(96, 128))
    for wrap in ("none", "both"):
        whole = np.clip(st.run(img, [side], Settings(tile=0, wrap=wrap)), 0, 1)
        tiled = np.clip(st.run(img, [side], Settings(tile=128, wrap=wrap)), 0, 1)
        assert whole.std() > 0.05
        assert np.abs(whole - tiled).max() < 1 / 255


def test_wrapped_reads_are_the_array_taken_modulo_its_size():
    """Window.read joins slices around a wrapped axis (so a device array is read without
    index arrays): the same as indexing modulo the size, however far a halo reaches."""
    from core.engine.tiling import Span, Window
    arr = np.arange(7 * 5 * 2, dtype=np.float32).reshape(7, 5, 2)
    for (ya, yb), (xa, xb) in [((-3, 4), (2, 9)), ((-9, 12), (-1, 5)), ((0, 7), (3, 4))]:
        win = Window(Span(0, 1, ya, yb), Span(0, 1, xa, xb))
        expected = arr[np.arange(ya, yb) % 7][:, np.arange(xa, xb) % 5]
        got = win.read(arr)
        assert got.flags.c_contiguous and np.array_equal(got, expected)


@pytest.mark.parametrize("method", ["linear-r31", "ccpl", "wct-r31"])
def test_feature_maps_kept_on_the_device_give_the_same_picture(stylizers, style, method):
    """With `resident` (CUDA's default) the image and the feature map stay torch tensors
    on the backend's device from encoding to decoding: tiles read, statistics summed and
    the transform applied there. Checked on the CPU, against the host path."""
    pytest.importorskip("torch")
    import torch
    st = stylizers[method]
    if st.backend.name != "torch":
        pytest.skip("the torch backend keeps maps on its device")
    img = _photo(200, 330)
    side = st.style(style)
    seen = []
    encode = st._encode
    st._encode = lambda *a: seen.append(encode(*a)) or seen[-1]
    try:
        for wrap, tile in [("none", 128), ("both", 128), ("x", 0)]:
            settings = Settings(tile=tile, wrap=wrap)
            st.backend.resident = False
            host = st.run(img, [side], settings)
            host_stats = st.content(img, settings)
            st.backend.resident = True
            device = st.run(img, [side], settings)
            device_stats = st.content(img, settings)
            assert isinstance(seen[-1], torch.Tensor) and not isinstance(seen[0], torch.Tensor)
            assert host.std() > 0.05 and np.abs(host - device).max() < 1e-5
            np.testing.assert_allclose(device_stats.mean, host_stats.mean, rtol=1e-6)
            np.testing.assert_allclose(device_stats.matrix, host_stats.matrix, rtol=1e-5, atol=1e-8)
    finally:
        st.backend.resident = False
        del st._encode


def test_resident_maps_in_half_precision_and_results_where_asked():
    """Below fp32 a resident map is stored in float16 (what the host path's large maps
    use); results come back as the input's kind, or on the host when asked."""
    torch = pytest.importorskip("torch")
    st = Stylizer("linear-r31", "cpu", backend="torch", precision="bf16")
    backend = st.backend
    backend.resident = True
    assert backend.resident_array((4, 5, 256), half=True).dtype == torch.float16
    assert backend.resident_array((4, 5, 3), half=False).dtype == torch.float32
    x = _photo(40, 48)
    on_device = backend.resident_array(x.shape, half=False)
    on_device.copy_(torch.from_numpy(x))
    feats = backend.run(Net.encoder("r31"), on_device)
    assert isinstance(feats, torch.Tensor) and feats.shape == (10, 12, 256)
    back = backend.run(Net.encoder("r31"), on_device, host=True)
    assert isinstance(back, np.ndarray) and np.array_equal(back, feats.numpy())
    assert np.array_equal(backend.run(Net.encoder("r31"), x), back)
    img = _photo(150, 190)
    side = st.style(_photo(96, 128))
    backend.resident = False
    host = st.run(img, [side], Settings(tile=128))
    backend.resident = True
    assert np.abs(st.run(img, [side], Settings(tile=128)) - host).max() < 1 / 255 / 4


def test_mapped_buffers_drop_their_pages_every_few_hundred_mb_touched(monkeypatch):
    """A tile loop reports what it touched; a mapped buffer's pages are dropped once
    RELEASE_BYTES have gathered, not after every tile (whose neighbours would fault the
    shared halo back in), so resident memory stays bounded either way."""
    import sys
    from core.mem import buffers
    if not sys.platform.startswith("linux"):
        pytest.skip("reads the resident set from /proc")

    def rss_mb():
        return int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20

    monkeypatch.setattr(buffers, "IN_MEMORY_BYTES", 1 << 20)
    arr = buffers.buffer((2048, 2048, 16), "test")  # 256 MB, mapped
    assert buffers.is_mapped(arr)
    start = rss_mb()
    arr[:1024] = 1.0  # 128 MB written
    buffers.release(arr, 128 << 20)
    assert rss_mb() > start + 100  # under the limit: kept
    arr[1024:] = 2.0
    buffers.release(arr, 128 << 20)  # 256 MB touched in all: dropped
    assert rss_mb() < start + 30
    assert arr[0, 0, 0] == 1.0 and arr[-1, -1, -1] == 2.0  # the data stays in the file


@pytest.mark.parametrize("method", ["linear-r31", "wct-r31", "ccpl"])
def test_pooled_statistics_are_those_of_the_maps_side_by_side(stylizers, method):
    """Several images' content statistics pool by position: the same image twice is that
    image; two images give the mean and covariance of their feature maps stitched into
    one; and each image then paints with that one transformation."""
    from core.engine.methods import channel_covariance, channel_moments, content_side, pooled_content_side
    st = stylizers[method]
    a, b = _photo(96, 128, seed=1), _photo(80, 112, seed=2)[..., ::-1].copy()
    fa, fb = (st.backend.run(Net.encoder(st.method.layer), x) for x in (a, b))
    one = content_side(st.method, st.backend, st.weights, fa, "none", 0)
    twice = pooled_content_side(st.method, st.backend, st.weights, [(fa, "none"), (fa, "none")], 0)
    assert np.allclose(one.mean, twice.mean, rtol=1e-9)  # covariance: n−1 becomes 2n−1
    assert np.allclose(one.matrix, twice.matrix, rtol=1e-2, atol=1e-6)
    both = pooled_content_side(st.method, st.backend, st.weights, [(fa, "none"), (fb, "none")], 0)
    c = fa.shape[2]
    stitched = np.concatenate([fa.reshape(-1, 1, c), fb.reshape(-1, 1, c)])
    mean, _ = channel_moments(stitched)
    assert np.allclose(both.mean, mean, rtol=1e-9)
    if method.startswith("wct"):
        assert np.allclose(channel_covariance([fa, fb], mean), channel_covariance(stitched, mean), rtol=1e-9)
    pooled = st.pooled_content(iter([a, b]), Settings())
    assert np.allclose(pooled.mean, both.mean, rtol=1e-6)
    side = st.style(_photo(80, 80, seed=5))
    alone = st.run(a, [side], Settings())
    shared = st.run(a, [side], Settings(), content=pooled)
    assert np.abs(alone - shared).mean() > 1e-3  # b's statistics took part


def test_auto_precision_takes_bf16_only_where_the_cpu_runs_it_faster(monkeypatch):
    """`auto` on a CPU: bf16 where it measures faster (BRUSHWORK_CPU_BF16 stands in for the
    measurement), fp32 elsewhere; fp16 on CUDA; WCT keeps fp32 whatever the CPU."""
    torch = pytest.importorskip("torch")
    from core.backends.torch import backend as tb
    from core.engine.stylizer import method_precision
    for flag, expected in (("1", "bf16"), ("0", "fp32")):
        monkeypatch.setenv("BRUSHWORK_CPU_BF16", flag)
        monkeypatch.setattr(tb, "_BF16_FASTER", [])
        assert tb.pick_precision("auto", torch.device("cpu")) == expected
        assert tb.pick_precision("fp32", torch.device("cpu")) == "fp32"
    assert tb.pick_precision("auto", torch.device("cuda")) == "fp16"
    from core.engine.methods import METHODS
    assert method_precision(METHODS["wct-r31"], "wct-r31", "auto") == "fp32"
