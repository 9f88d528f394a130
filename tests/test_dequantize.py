"""8-bit steps smoothed before stylizing: gradients lose their staircase, nothing else moves."""
import numpy as np
import pytest
from PIL import Image

from core.media.dequantize import LOSSY, smooth_steps


def _sky(h=120, w=160, span=12.0):
    """A slow radial gradient (about `span` codes across) above two flat blocks of very
    different shades: the true values and their 8-bit codes."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(xx / w - 1.0, yy / h) / np.sqrt(2)
    true = np.stack([30 + span * r, 60 + span * r, 110 + span * r], -1) / 255
    true[h // 2:, : w // 2] = np.array([0.05, 0.2, 0.25])
    true[h // 2:, w // 2:] = np.array([0.85, 0.93, 0.87])
    return true.astype(np.float32), np.round(true * 255).astype(np.float32) / 255


def test_a_gradient_loses_its_steps_and_keeps_its_codes():
    true, stored = _sky()
    out = smooth_steps(stored.copy())
    assert np.array_equal(np.round(out * 255), np.round(stored * 255))  # rounds back to the file
    sky = slice(2, 56)
    err_before = np.abs(stored - true)[sky].mean()
    err_after = np.abs(out - true)[sky].mean()
    assert err_after < 0.6 * err_before
    # the staircase: one-code jumps between neighbours become small steps
    step = lambda a: np.abs(np.diff(a[sky], axis=1)).max() * 255  # noqa: E731
    assert step(stored) >= 1 - 1e-4
    assert step(out) < 0.5


def test_flat_blocks_beside_a_gradient_stay_flat():
    """Nothing of the gradient bleeds into its neighbours: each flat block keeps its code
    and stays flat to a fraction of a code (a sub-code shade of structure would be
    amplified as the steps were)."""
    _, stored = _sky()
    out = smooth_steps(stored.copy())
    for block in ((slice(61, None), slice(0, 79)), (slice(61, None), slice(81, None))):
        assert np.array_equal(np.round(out[block] * 255), np.round(stored[block] * 255))
        assert np.ptp(out[block], axis=(0, 1)).max() * 255 < 0.2


def test_texture_and_edges_are_not_touched():
    rng = np.random.default_rng(0)
    texture = (rng.integers(0, 256, (64, 80, 3)) / 255).astype(np.float32)
    assert np.array_equal(smooth_steps(texture.copy()), texture)


def test_lossy_sources_move_at_most_their_tolerance():
    _, stored = _sky(span=30)
    rng = np.random.default_rng(1)
    noisy = np.clip(np.round(stored * 255 + rng.integers(-1, 2, stored.shape)), 0, 255).astype(np.float32) / 255
    lossless, lossy = smooth_steps(noisy.copy()), smooth_steps(noisy.copy(), lossy=True)
    assert np.abs(lossless - noisy).max() * 255 < 0.5
    assert np.abs(lossy - noisy).max() * 255 < LOSSY
    sky = slice(2, 56)
    # codec noise of a code either way is smoothed only where the codec's tolerance allows
    rough = lambda a: np.abs(np.diff(a[sky], axis=1)).mean() * 255  # noqa: E731
    assert rough(lossy) < 0.5 * rough(noisy)
    assert rough(lossy) < rough(lossless)


def test_a_wrapped_edge_keeps_joining():
    """A gradient periodic in x, smoothed with wrap="x": across the left/right edge the
    picture is as smooth as anywhere inside; without wrap the edge may jump."""
    h, w = 48, 200
    xx = np.arange(w, dtype=np.float32)
    wave = 100 + 6 * np.sin(2 * np.pi * xx / w)
    stored = np.repeat(np.round(np.stack([wave] * 3, -1))[None] / 255, h, 0).astype(np.float32)
    out = smooth_steps(stored.copy(), wrap="x")
    inside = np.abs(np.diff(out, axis=1)).max()
    across = np.abs(out[:, 0] - out[:, -1]).max()
    assert across <= inside + 1e-6
    assert inside * 255 < 0.6
    rolled = smooth_steps(np.roll(stored, 70, axis=1).copy(), wrap="x")
    assert np.abs(np.roll(rolled, -70, axis=1) - out).max() * 255 < 0.25  # no edge is special


@pytest.fixture
def gradient_files(tmp_path):
    """The sky as an 8-bit PNG and as a 16-bit PNG of the true values (the reference)."""
    import cv2
    true, stored = _sky(192, 256)
    p8, p16 = tmp_path / "sky8.png", tmp_path / "sky16.png"
    Image.fromarray(np.round(stored * 255).astype(np.uint8)).save(p8)
    cv2.imwrite(str(p16), np.round(true[..., ::-1] * 65535).astype(np.uint16))
    return p8, p16


def test_an_8bit_gradient_paints_like_its_16bit_original(gradient_files, style, tmp_path, monkeypatch):
    """The rings: painted from the 8-bit file, the sky must come out close to the 16-bit
    file's, much closer than without the smoothing."""
    from core.app import cli
    from core.jobs import image
    from core.media.image_io import read_image

    p8, p16 = gradient_files

    def paint(src, name):
        out = tmp_path / name
        assert cli.main(["stylize", str(src), style, "-o", str(out), "--quiet"]) == 0
        return read_image(str(out)).color[:90]

    reference, smoothed = paint(p16, "ref.png"), paint(p8, "smoothed.png")
    monkeypatch.setattr(image, "smooth_file", lambda rgb, *_: rgb)
    raw = paint(p8, "raw.png")
    gap = lambda a: float(np.abs(a - reference).mean())  # noqa: E731
    assert gap(smoothed) < 0.5 * gap(raw)


def test_8bit_frames_are_smoothed_as_they_load(gradient_files):
    from core.jobs.frames import load_frame

    p8, _ = gradient_files
    frame = load_frame(p8, {})
    stored = np.asarray(Image.open(p8), np.float32) / 255
    assert np.array_equal(np.round(frame.rgb * 255), np.round(stored * 255))
    assert not np.array_equal(frame.rgb, stored)


def test_movie_frames_are_smoothed_as_lossy(style, tmp_path, monkeypatch):
    """A movie's frames (8-bit, from a lossy codec) go through the smoothing, with the
    codec's wider tolerance, for the statistics and for every painted frame."""
    from core.jobs import movie
    from support import encode

    _, stored = _sky(96, 128)
    frames = [np.round(stored * 255).astype(np.uint8)] * 3
    src = encode(tmp_path / "sky.mp4", frames, sound=False)
    calls, real = [], movie.smooth_steps
    monkeypatch.setattr(movie, "smooth_steps", lambda rgb, **kw: calls.append(kw) or real(rgb, **kw))
    job = movie.VideoJob(movie=str(src), styles=[style], output=str(tmp_path / "out.mp4"), method="wct-r31",
                         coherence="none", end=0.25)
    result = movie.run(job)
    assert result.frames == 3
    assert len(calls) > result.frames and all(kw.get("lossy") for kw in calls)
