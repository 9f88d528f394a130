"""core/media/png.py: PNG files written on every core, read back by independent decoders."""
import io
import zlib

import numpy as np
import pytest
from PIL import Image

from core.media import png


def _photo_like(h, w, c, dtype=np.uint8, seed=0):
    """Smooth gradients, an edge and noise: every PNG filter has rows it wins."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([(x / w), (y / h), ((x + y) / (w + h)), 0.5 + 0.5 * np.sin(x / 7)][:c], -1)
    base[h // 3: h // 2] = 1 - base[h // 3: h // 2]
    base += rng.normal(0, 0.02, base.shape)
    top = np.iinfo(dtype).max
    return np.clip(np.rint(base * top), 0, top).astype(dtype)


def _decode_cv2(data: bytes, channels: int) -> np.ndarray:
    cv2 = pytest.importorskip("cv2")
    out = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    out = out[..., None] if out.ndim == 2 else out
    return out[..., [2, 1, 0, 3][:channels]] if channels >= 3 else out


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_round_trip_through_independent_decoders(monkeypatch, channels, dtype):
    monkeypatch.setattr(png, "PIECE_BYTES", 4096)  # many pieces: every join is exercised
    pixels = _photo_like(61, 67, channels, dtype)
    data = b"".join(png.encode(pixels))
    if dtype == np.uint8:  # Pillow reads 8-bit in every mode (its 16-bit colour is lossy)
        with Image.open(io.BytesIO(data)) as im:
            got = np.asarray(im)
        np.testing.assert_array_equal(got.reshape(pixels.shape), pixels)
    if channels != 2:  # OpenCV expands gray+alpha to four channels
        np.testing.assert_array_equal(_decode_cv2(data, channels), pixels)


def test_pieces_make_one_zlib_stream_with_its_checksum(monkeypatch):
    """The IDAT data is one zlib stream (zlib itself checks header and Adler-32) whose rows
    each start with a filter type, and the threads change nothing: same bytes."""
    monkeypatch.setattr(png, "PIECE_BYTES", 2048)
    pixels = _photo_like(80, 50, 3)
    parts = png.encode(pixels, threads=4)
    data = b"".join(parts)
    assert data == b"".join(png.encode(pixels, threads=1))
    idat, pos = b"", 8
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        assert zlib.crc32(kind + body) == int.from_bytes(data[pos + 8 + n:pos + 12 + n], "big")
        idat += body if kind == b"IDAT" else b""
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(80, 1 + 50 * 3)
    kinds = set(raw[:, 0].tolist())
    assert kinds <= {0, 1, 2, 3, 4} and len(kinds) >= 2  # chosen per row, not one for all


def test_adler32_of_pieces_combines_to_the_whole():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = (rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(0, 200_000, 2))
        assert png._adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)


def test_size_is_libpngs_at_the_same_level():
    """Filtering as libpng does (the least sum of |signed bytes| per row) keeps files as
    small as OpenCV's at the same zlib level, although each piece starts a fresh window."""
    cv2 = pytest.importorskip("cv2")
    pixels = _photo_like(512, 768, 3)
    ours = len(b"".join(png.encode(pixels, 3)))
    ok, theirs = cv2.imencode(".png", pixels[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 3])
    assert ok and ours <= 1.03 * len(theirs), (ours, len(theirs))


def test_converts_float_rows_on_the_threads():
    pixels = np.linspace(0, 1, 40 * 30 * 3, dtype=np.float32).reshape(40, 30, 3)
    data = b"".join(png.encode(pixels, dtype=np.uint8, convert=lambda band: np.rint(band * 255).astype(np.uint8)))
    with Image.open(io.BytesIO(data)) as im:
        np.testing.assert_array_equal(np.asarray(im), np.rint(pixels * 255).astype(np.uint8))


def test_refuses_what_png_cannot_hold():
    with pytest.raises(ValueError, match="uint8 or uint16"):
        png.encode(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="1..4"):
        png.encode(np.zeros((4, 4, 5), np.uint8))
