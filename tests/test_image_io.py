"""Round trips and failure modes of core.media.image_io, on small images made here.

Where possible the files are checked with an independent reader (Pillow for 8-bit,
cv2 / OpenEXR directly otherwise), so a symmetric bug (e.g. BGR on both read and
write) cannot hide behind a self-consistent round trip.
"""

import os
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
from PIL import Image

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # `pytest tests/...` puts tests/ on the path, not the repo root
    sys.path.insert(0, ROOT)

from core.media import image_io  # noqa: E402
from core.errors import BrushworkError  # noqa: E402
from core.media.image_io import Picture, image_size, read_image, write_image  # noqa: E402

RNG = np.random.default_rng(1234)
H, W = 7, 9


def rand_int(dtype, channels):
    info = np.iinfo(dtype)
    shape = (H, W) if channels == 1 else (H, W, channels)
    return RNG.integers(0, info.max + 1, size=shape, dtype=dtype)


def as_int(picture, dtype):
    """The file's integer values back from a Picture's 0..1 floats."""
    return np.rint(picture.pixels * np.iinfo(dtype).max).astype(dtype)


def expect_error(call, path, *args, **kwargs):
    """The call raises BrushworkError with a one-line message naming the file."""
    with pytest.raises(BrushworkError) as info:
        call(path, *args, **kwargs)
    msg = str(info.value)
    assert os.path.basename(str(path)) in msg, msg
    assert "\n" not in msg
    return msg


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(path, width, height, depth, colour_type, rows=None):
    """A hand-made PNG (for what no library here writes: 16-bit gray+alpha, fake huge headers)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    body = png_chunk(b"IHDR", ihdr)
    if rows is not None:
        raw = b"".join(b"\x00" + row.astype(">u%d" % (depth // 8)).tobytes() for row in rows)
        body += png_chunk(b"IDAT", zlib.compress(raw))
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + body + png_chunk(b"IEND", b""))


def make_tiff(path, arr, width=None, height=None):
    """A minimal uncompressed little-endian TIFF (gray or gray+alpha) from a (H, W[, 2]) array."""
    height = arr.shape[0] if height is None else height
    width = arr.shape[1] if width is None else width
    spp = 1 if arr.ndim == 2 else arr.shape[2]
    data = arr.astype("<" + arr.dtype.str[1:]).tobytes()
    entries = [
        (256, 4, width), (257, 4, height), (258, 3, arr.dtype.itemsize * 8), (259, 3, 1),
        (262, 3, 1), (273, 4, 0), (277, 3, spp), (278, 4, max(height, 1)), (279, 4, len(data)),
    ]
    if spp == 2:
        entries.append((338, 3, 2))  # extra sample: unassociated alpha
    data_at = 8 + 2 + 12 * len(entries) + 4
    out = b"II*\x00" + struct.pack("<IH", 8, len(entries))
    for tag, kind, value in entries:
        value = data_at if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, 1) + packed
    Path(path).write_bytes(out + b"\x00\x00\x00\x00" + data)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("channels,mode", [(1, "L"), (3, "RGB"), (4, "RGBA")])
def test_png8_round_trip_exact_against_pillow(tmp_path, channels, mode):
    src, dst = tmp_path / "src.png", tmp_path / "dst.png"
    values = rand_int(np.uint8, channels)
    Image.fromarray(values, mode).save(src)

    pic = read_image(src)
    assert pic.dtype == np.uint8 and not pic.linear and pic.path == str(src)
    assert pic.pixels.dtype == np.float32 and pic.pixels.shape == (H, W, channels)
    assert pic.pixels.min() >= 0 and pic.pixels.max() <= 1
    np.testing.assert_array_equal(as_int(pic, np.uint8), values.reshape(H, W, channels))

    write_image(dst, pic)
    with Image.open(dst) as im:
        assert im.mode == mode
        np.testing.assert_array_equal(np.asarray(im), values)


def test_rgb_order_pure_red(tmp_path):
    red = np.zeros((2, 3, 3), np.uint8)
    red[..., 0] = 255
    Image.fromarray(red).save(tmp_path / "red.png")
    pic = read_image(tmp_path / "red.png")
    np.testing.assert_array_equal(pic.pixels[0, 0], [1.0, 0.0, 0.0])

    write_image(tmp_path / "out.png", pic)
    with Image.open(tmp_path / "out.png") as im:
        assert im.getpixel((0, 0)) == (255, 0, 0)
    write_image(tmp_path / "out.jpg", pic)
    with Image.open(tmp_path / "out.jpg") as im:
        r, g, b = im.getpixel((0, 0))
        assert r > 240 and g < 15 and b < 15


@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_round_trip_exact(tmp_path, ext, channels):
    values = rand_int(np.uint16, channels).reshape(H, W, channels)
    values[0, 0] = 1  # values that 8 bits cannot hold
    values[0, 1] = 65534
    values[0, 2] = 257 * 100 + 1
    pic = Picture(values.astype(np.float32) / 65535, np.uint16, linear=False)
    path = tmp_path / ("img" + ext)
    write_image(path, pic)

    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # independent check of the file itself
    assert raw.dtype == np.uint16
    if channels == 3:
        raw = raw[..., ::-1]
    elif channels == 4:
        raw = raw[..., [2, 1, 0, 3]]
    np.testing.assert_array_equal(raw.reshape(H, W, channels), values)

    back = read_image(path)
    assert back.dtype == np.uint16 and not back.linear
    np.testing.assert_array_equal(as_int(back, np.uint16), values)
    assert back.pixels.dtype == np.float32


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_float32_tiff_round_trip_exact(tmp_path, channels):
    values = (RNG.standard_normal((H, W, channels)) * 4).astype(np.float32)
    values[0, 0, 0] = 1234.5
    values[0, 1, 0] = -0.25
    path = tmp_path / "f.tif"
    write_image(path, Picture(values, np.float32, linear=True))
    assert image_size(path) == (W, H)
    back = read_image(path)
    assert back.dtype == np.float32 and back.linear
    np.testing.assert_array_equal(back.pixels, values)


def test_float16_tiff_is_stored_as_float32(tmp_path):
    values = np.array([[[0.5, 2.0, -1.0]]], np.float16).astype(np.float32)
    write_image(tmp_path / "h.tif", Picture(values, np.float16, linear=True))
    back = read_image(tmp_path / "h.tif")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.pixels, values)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("channels,names", [(1, "Y"), (2, "AY"), (3, "BGR"), (4, "ABGR")])
def test_exr_round_trip_exact(tmp_path, dtype, channels, names):
    values = (RNG.standard_normal((H, W, channels)) * 3).astype(dtype).astype(np.float32)
    values[0, 0, 0] = 100.0
    values[0, 1, 0] = -2.5
    path = tmp_path / "img.exr"
    write_image(path, Picture(values, dtype, linear=True))

    with open(path, "rb") as f:  # independent check: channel names, types, compression
        exr = OpenEXR.File(f, separate_channels=True)
        assert sorted(exr.channels()) == sorted(names)
        assert all(c.pixels.dtype == dtype for c in exr.channels().values())
        assert exr.header()["compression"] == OpenEXR.ZIP_COMPRESSION

    assert image_size(path) == (W, H)
    back = read_image(path)
    assert back.dtype == np.dtype(dtype) and back.linear
    assert back.pixels.dtype == np.float32
    np.testing.assert_array_equal(back.pixels, values)


def test_exr_reads_default_layer_and_ignores_others(tmp_path):
    r, g, b = (np.full((H, W), v, np.float32) for v in (0.1, 2.0, -3.0))
    path = tmp_path / "layers.exr"
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage},
                 {"R": r, "G": g, "B": b, "diffuse.R": r}).write(str(path))
    pic = read_image(path)
    assert pic.pixels.shape == (H, W, 3) and pic.alpha is None
    np.testing.assert_array_equal(pic.pixels[0, 0], [r[0, 0], 2.0, -3.0])


def test_jpeg_round_trip_approx(tmp_path):
    yy, xx = np.mgrid[0:32, 0:48]
    smooth = np.dstack([xx / 47, yy / 31, 0.5 + 0 * xx]).astype(np.float32)
    path = tmp_path / "smooth.jpeg"
    write_image(path, Picture(smooth, np.uint8, linear=False), jpeg_quality=95)
    back = read_image(path)
    assert back.dtype == np.uint8 and back.pixels.shape == (32, 48, 3)
    assert np.abs(back.pixels - smooth).mean() < 0.01


def test_alpha_preserved_exactly(tmp_path):
    values = rand_int(np.uint8, 4)
    values[..., 3] = np.arange(H * W).reshape(H, W) % 256
    src = tmp_path / "a.png"
    Image.fromarray(values, "RGBA").save(src)
    pic = read_image(src)
    assert pic.alpha.shape == (H, W)
    np.testing.assert_array_equal(np.rint(pic.alpha * 255), values[..., 3])
    np.testing.assert_array_equal(pic.color, pic.pixels[..., :3])
    for ext in (".png", ".tif", ".exr"):
        out = tmp_path / ("b" + ext)
        pic_out = pic if ext != ".exr" else Picture(pic.pixels, np.float32, linear=True)
        write_image(out, pic_out)
        np.testing.assert_array_equal(read_image(out).alpha, pic.alpha)


def test_integer_write_clips_and_rounds(tmp_path):
    values = np.array([[[-0.5, 0.5, 1.5], [np.nan, 1 / 255 * 0.6, np.inf]]], np.float32)
    write_image(tmp_path / "c.png", Picture(values, np.uint8, linear=False))
    with Image.open(tmp_path / "c.png") as im:
        np.testing.assert_array_equal(np.asarray(im), [[[0, 128, 255], [0, 1, 255]]])


# --------------------------------------------------------------------------- gray+alpha, palette


def test_gray_alpha_png8_reads_as_two_channels_and_writes_back_as_gray_alpha(tmp_path):
    values = rand_int(np.uint8, 2)
    Image.fromarray(values, "LA").save(tmp_path / "la.png")
    pic = read_image(tmp_path / "la.png")
    assert pic.pixels.shape == (H, W, 2) and pic.dtype == np.uint8
    assert pic.color.shape == (H, W, 1)
    np.testing.assert_array_equal(as_int(pic, np.uint8), values)

    write_image(tmp_path / "out.png", pic)
    with Image.open(tmp_path / "out.png") as im:  # the file itself, read independently
        assert im.mode == "LA"
        np.testing.assert_array_equal(np.asarray(im), values)
    back = read_image(tmp_path / "out.png")
    assert back.pixels.shape == (H, W, 2)
    np.testing.assert_array_equal(back.pixels, pic.pixels)


def test_gray_alpha_png16_exact(tmp_path):
    values = rand_int(np.uint16, 2)
    make_png(tmp_path / "la16.png", W, H, 16, 4, rows=values.reshape(H, W * 2))
    pic = read_image(tmp_path / "la16.png")
    assert pic.pixels.shape == (H, W, 2) and pic.dtype == np.uint16
    np.testing.assert_array_equal(as_int(pic, np.uint16), values)


def test_gray_alpha_tiff8_keeps_alpha(tmp_path):
    values = rand_int(np.uint8, 2)
    Image.fromarray(values, "LA").save(tmp_path / "la.tif")
    pic = read_image(tmp_path / "la.tif")
    assert pic.pixels.shape == (H, W, 2)
    np.testing.assert_array_equal(as_int(pic, np.uint8), values)


def test_gray_alpha_tiff16_refused_rather_than_losing_alpha(tmp_path):
    make_tiff(tmp_path / "la16.tif", rand_int(np.uint16, 2))
    msg = expect_error(read_image, tmp_path / "la16.tif")
    assert "gray+alpha" in msg


def test_palette_png_expands_to_rgb_and_rgba(tmp_path):
    pal = Image.new("P", (3, 1))
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    pal.putdata([0, 1, 2])
    pal.save(tmp_path / "p.png")
    pal.save(tmp_path / "pt.png", transparency=bytes([255, 128, 0]))
    rgb = read_image(tmp_path / "p.png")
    np.testing.assert_array_equal(rgb.pixels[0], np.eye(3))
    rgba = read_image(tmp_path / "pt.png")
    assert rgba.pixels.shape == (1, 3, 4)
    np.testing.assert_array_equal(as_int(rgba, np.uint8)[0, :, 3], [255, 128, 0])


# --------------------------------------------------------------------------- sizes and limits


def test_image_size_per_format(tmp_path):
    pic = Picture(np.zeros((5, 11, 3), np.float32), np.uint8, linear=False)
    for ext in (".png", ".jpg", ".tif"):
        write_image(tmp_path / ("s" + ext), pic)
        assert image_size(tmp_path / ("s" + ext)) == (11, 5)
    write_image(tmp_path / "s.exr", Picture(pic.pixels, np.float16, linear=True))
    assert image_size(tmp_path / "s.exr") == (11, 5)


def test_huge_png_header_refused_without_decoding(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    make_png(path, 40000, 40000, 8, 2)  # header only: decoding it would need 4.8 GB
    assert image_size(path) == (40000, 40000)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoder must not run")

    monkeypatch.setattr(image_io.cv2, "imdecode", no_decoding)
    msg = expect_error(read_image, path)
    assert "40000×40000 (1600 Mpx)" in msg and "268 Mpx limit" in msg


def test_huge_tiff_header_refused(tmp_path):
    path = tmp_path / "huge.tif"
    make_tiff(path, np.zeros((1, 1), np.uint8), width=30000, height=20000)
    assert image_size(path) == (30000, 20000)
    assert "30000×20000" in expect_error(read_image, path)


def test_max_pixels_argument(tmp_path):
    Image.fromarray(rand_int(np.uint8, 3)).save(tmp_path / "small.png")
    msg = expect_error(read_image, tmp_path / "small.png", max_pixels=10)
    assert f"{W}×{H}" in msg
    assert read_image(tmp_path / "small.png", max_pixels=H * W).pixels.shape == (H, W, 3)


# --------------------------------------------------------------------------- read errors


def test_read_errors_name_the_file(tmp_path):
    expect_error(read_image, tmp_path / "missing.png")
    (tmp_path / "folder.png").mkdir()
    expect_error(read_image, tmp_path / "folder.png")
    (tmp_path / "empty.png").write_bytes(b"")
    assert "empty" in expect_error(read_image, tmp_path / "empty.png")
    (tmp_path / "anim.gif").write_bytes(b"GIF89a" + bytes(20))
    assert "unsupported" in expect_error(read_image, tmp_path / "anim.gif")
    for name in ("junk.png", "junk.jpg", "junk.tif", "junk.exr"):
        (tmp_path / name).write_bytes(b"this is not an image at all" * 3)
        expect_error(read_image, tmp_path / name)
        expect_error(image_size, tmp_path / name)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".exr"])
def test_truncated_files(tmp_path, ext):
    yy, xx = np.mgrid[0:64, 0:64]
    noise = RNG.random((64, 64, 3)).astype(np.float32)
    pic = Picture(noise * 0.5 + (xx[..., None] / 128), np.uint8 if ext != ".exr" else np.float32,
                  linear=ext == ".exr")
    whole = tmp_path / ("whole" + ext)
    write_image(whole, pic)
    data = whole.read_bytes()
    cut = tmp_path / ("cut" + ext)
    cut.write_bytes(data[: len(data) * 2 // 3])
    expect_error(read_image, cut)


def test_zero_size_image(tmp_path):
    make_tiff(tmp_path / "zero.tif", np.zeros((1, 1), np.uint8), width=0, height=4)
    assert "zero size" in expect_error(read_image, tmp_path / "zero.tif")
    make_png(tmp_path / "zero.png", 0, 4, 8, 0)
    expect_error(read_image, tmp_path / "zero.png")


def test_unexpected_channel_count(tmp_path, monkeypatch):
    Image.fromarray(rand_int(np.uint8, 3)).save(tmp_path / "five.png")
    monkeypatch.setattr(image_io.cv2, "imdecode", lambda *a: np.zeros((H, W, 5), np.uint8))
    assert "channel" in expect_error(read_image, tmp_path / "five.png")


def test_unsupported_sample_type(tmp_path):
    cv2.imwrite(str(tmp_path / "i16.tif"), np.zeros((3, 4), np.int16))
    expect_error(read_image, tmp_path / "i16.tif")


def test_exr_without_colour_channels_lists_them(tmp_path):
    z = np.ones((H, W), np.float32)
    path = tmp_path / "depth.exr"
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage},
                 {"Z": z, "view.Combined.R": z}).write(str(path))
    msg = expect_error(read_image, path)
    assert "Z" in msg and "view.Combined.R" in msg


# --------------------------------------------------------------------------- write errors and atomicity


def test_format_limits_are_errors_not_silent_losses(tmp_path):
    rgba = np.zeros((2, 2, 4), np.float32)
    rgb = np.zeros((2, 2, 3), np.float32)
    expect_error(write_image, tmp_path / "a.jpg", Picture(rgba, np.uint8, False))
    expect_error(write_image, tmp_path / "g.jpg", Picture(rgba[..., :2], np.uint8, False))
    expect_error(write_image, tmp_path / "b.jpg", Picture(rgb, np.uint16, False))
    expect_error(write_image, tmp_path / "c.jpeg", Picture(rgb, np.float32, True))
    expect_error(write_image, tmp_path / "d.png", Picture(rgb, np.float16, True))
    expect_error(write_image, tmp_path / "e.exr", Picture(rgb, np.uint8, False))
    expect_error(write_image, tmp_path / "f.bmp", Picture(rgb, np.uint8, False))
    assert list(tmp_path.iterdir()) == []


def test_write_to_missing_directory(tmp_path):
    pic = Picture(np.zeros((2, 2, 3), np.float32), np.uint8, False)
    msg = expect_error(write_image, tmp_path / "nowhere" / "out.png", pic)
    assert "nowhere" in msg


def test_unicode_path(tmp_path):
    path = tmp_path / "Bäume – 木.png"
    pic = Picture(RNG.random((3, 4, 3)).astype(np.float32), np.uint8, False)
    write_image(path, pic)
    np.testing.assert_array_equal(read_image(path).pixels, np.rint(pic.pixels * 255) / 255)


def _old_target(tmp_path, name):
    target = tmp_path / name
    target.write_bytes(b"old content")
    return target


def test_interrupted_png_write_leaves_target_and_no_temp(tmp_path, monkeypatch):
    target = _old_target(tmp_path, "out.png")
    pic = Picture(RNG.random((4, 4, 3)).astype(np.float32), np.uint8, False)

    def interrupt(fd):  # the encoded bytes are in the temp file; the user hits Ctrl+C
        raise KeyboardInterrupt

    monkeypatch.setattr(image_io.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_image(target, pic)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert target.read_bytes() == b"old content"


def test_interrupted_exr_write_midway(tmp_path, monkeypatch):
    target = _old_target(tmp_path, "out.exr")
    real_file = image_io.OpenEXR.File
    seen = {}

    class HalfWriter:
        def __init__(self, *args, **kwargs):
            self._inner = real_file(*args, **kwargs)

        def write(self, stream):
            seen["temp"] = stream.name
            stream.write(b"\x76\x2f\x31\x01partial")
            stream.flush()
            assert os.path.getsize(stream.name) > 0
            raise KeyboardInterrupt

    monkeypatch.setattr(image_io.OpenEXR, "File", HalfWriter)
    with pytest.raises(KeyboardInterrupt):
        write_image(target, Picture(np.ones((4, 4, 3), np.float32), np.float16, True))
    temp = Path(seen["temp"])
    assert temp.parent == tmp_path and temp.name.startswith(".") and temp.suffix == ".exr"
    assert not temp.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.exr"]
    assert target.read_bytes() == b"old content"


def test_failed_replace_is_a_brushwork_error(tmp_path, monkeypatch):
    target = _old_target(tmp_path, "out.tif")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(image_io.os, "replace", refuse)
    expect_error(write_image, target, Picture(np.zeros((2, 2, 1), np.float32), np.uint16, False))
    assert [p.name for p in tmp_path.iterdir()] == ["out.tif"]
    assert target.read_bytes() == b"old content"


def test_encoder_failure_is_a_brushwork_error(tmp_path, monkeypatch):
    monkeypatch.setattr(image_io.cv2, "imencode", lambda *a, **k: (False, None))
    expect_error(write_image, tmp_path / "x.jpg", Picture(np.zeros((2, 2, 3), np.float32), np.uint8, False))
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_content(tmp_path):
    target = _old_target(tmp_path, "out.png")
    write_image(target, Picture(np.ones((2, 3, 3), np.float32), np.uint8, False))
    assert read_image(target).pixels.shape == (2, 3, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_picture_validates_itself():
    with pytest.raises(ValueError):
        Picture(np.zeros((2, 2), np.float32), np.uint8, False)
    with pytest.raises(ValueError):
        Picture(np.zeros((2, 2, 3), np.float32), np.int16, False)
    pic = Picture(np.zeros((2, 2, 3), np.float32), "uint16", False)
    assert pic.dtype == np.uint16 and pic.alpha is None and pic.color.shape == (2, 2, 3)
