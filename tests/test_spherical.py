"""Spherical (360°) metadata injection: both MP4 layouts must still play after the rewrite."""
import struct
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from core.media import spherical
from core.errors import BrushworkError

W, H, N = 64, 32, 12
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255),
           (255, 255, 255), (0, 0, 0), (128, 0, 0), (0, 128, 0), (0, 0, 128), (255, 128, 0)]


def _make_mp4(path, faststart=False):
    params = ["-movflags", "+faststart"] if faststart else None
    writer = imageio_ffmpeg.write_frames(str(path), (W, H), fps=12, codec="libx264", pix_fmt_out="yuv420p",
                                         macro_block_size=1, output_params=params)
    writer.send(None)
    for colour in COLOURS:
        writer.send(np.full((H, W, 3), colour, np.uint8).tobytes())
    writer.close()
    return path


def _top_kinds(path):
    data = path.read_bytes()
    return [kind for kind, _, _ in spherical._iter_boxes(data, 0, len(data), str(path))]


def _walk(data, start, end):
    """Every box tiles its parent exactly; descend through the containers we rewrite."""
    pos = start
    for kind, body, stop in spherical._iter_boxes(data, start, end, "walk"):
        assert stop > pos
        pos = stop
        if kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"sv3d", b"proj"):
            _walk(data, body, stop)
        elif kind == b"stsd":
            count = struct.unpack_from(">I", data, body + 4)[0]
            entries = list(spherical._iter_boxes(data, body + 8, stop, "walk"))
            assert len(entries) == count
            for ekind, ebody, estop in entries:
                if ekind == b"avc1":
                    _walk(data, ebody + 78, estop)
    assert pos == end


def _decode(path):
    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = [np.frombuffer(f, np.uint8).reshape(meta["size"][1], meta["size"][0], 3) for f in reader]
    return frames


@pytest.fixture(params=[False, True], ids=["moov_last", "faststart"])
def video(request, tmp_path):
    path = _make_mp4(tmp_path / "clip.mp4", faststart=request.param)
    kinds = _top_kinds(path)
    assert (kinds.index(b"moov") < kinds.index(b"mdat")) == request.param
    return path


def test_inject_round_trip(video, tmp_path):
    out = tmp_path / "out.mp4"
    before = video.read_bytes()
    spherical.inject(str(video), str(out))
    assert video.read_bytes() == before, "the source must be untouched when output is given"
    assert spherical.read_spherical(str(video)) == {"v1": None, "v2": None}

    meta = spherical.read_spherical(str(out))
    assert meta["v1"] == {"projection": "equirectangular", "spherical": True, "stitched": True,
                          "stitching_software": "Brushwork"}
    assert meta["v2"]["projection"] == "equirectangular"
    assert meta["v2"]["stereo_mode"] == 0
    assert meta["v2"]["metadata_source"] == "Brushwork"
    assert meta["v2"]["pose"] == (0, 0, 0) and meta["v2"]["bounds"] == (0, 0, 0, 0)

    data = out.read_bytes()
    _walk(data, 0, len(data))
    assert len(data) > len(before)

    frames = _decode(out)
    assert len(frames) == N
    last = frames[-1].reshape(-1, 3).mean(axis=0)
    assert np.abs(last - COLOURS[-1]).max() < 12, last
    first = frames[0].reshape(-1, 3).mean(axis=0)
    assert np.abs(first - COLOURS[0]).max() < 12, first


def test_v2_box_order_and_layout(video):
    spherical.inject(str(video))  # in place
    data = video.read_bytes()
    i = data.index(b"st3d")
    assert data[i - 4:i] == struct.pack(">I", 13) and data[i + 4:i + 9] == b"\0\0\0\0\0"
    j = data.index(b"sv3d")
    assert j > i
    proj, prhd = data.index(b"proj", j), data.index(b"prhd", j)
    assert prhd == proj + 8
    assert struct.unpack(">I", data[prhd - 4:prhd])[0] == 24
    equi = prhd + 24  # "equi" also occurs in the V1 XML, so find it by position
    assert data[equi:equi + 4] == b"equi" and struct.unpack(">I", data[equi - 4:equi])[0] == 28
    assert struct.unpack(">I", data[proj - 4:proj])[0] == 8 + 24 + 28
    assert data.index(spherical.V1_UUID) > data.index(b"tkhd")


def test_reinject_is_idempotent(video, tmp_path):
    spherical.inject(str(video))
    once = video.read_bytes()
    spherical.inject(str(video))
    assert video.read_bytes() == once
    copy = tmp_path / "copy.mp4"
    spherical.inject(str(video), str(copy))
    assert copy.read_bytes() == once
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".spherical-")] == []


def test_png_renamed_is_rejected(tmp_path):
    fake = tmp_path / "picture.mp4"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + bytes(40))
    with pytest.raises(BrushworkError, match="picture.mp4"):
        spherical.inject(str(fake))
    with pytest.raises(BrushworkError, match="not an MP4"):
        spherical.read_spherical(str(fake))


def test_truncated_mp4_is_rejected(video, tmp_path):
    cut = tmp_path / "cut.mp4"
    data = video.read_bytes()
    cut.write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(BrushworkError, match="cut.mp4"):
        spherical.inject(str(cut))
    assert cut.read_bytes() == data[:len(data) * 2 // 3]


def test_no_video_track(tmp_path):
    audio = tmp_path / "tone.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=d=0.2",
                    "-c:a", "aac", str(audio)], check=True)
    with pytest.raises(BrushworkError, match="tone.mp4: MP4 has no video track"):
        spherical.inject(str(audio))


def _retarget_mdat(path):
    """Rewrite mdat's header the other legal ways: 64-bit size (moov last) or size 0 (mdat last)."""
    data = bytearray(path.read_bytes())
    boxes = list(spherical._iter_boxes(bytes(data), 0, len(data), str(path)))
    kinds = [k for k, _, _ in boxes]
    m = kinds.index(b"mdat")
    _, body, stop = boxes[m]
    if m == len(boxes) - 1:
        data[body - 8:body - 4] = struct.pack(">I", 0)
    else:
        assert kinds[m - 1] == b"free" and boxes[m - 1][2] - boxes[m - 1][1] == 0  # ffmpeg's 8-byte spare
        start = body - 16
        data[start:body] = struct.pack(">I4sQ", 1, b"mdat", stop - start)
    path.write_bytes(bytes(data))


def test_large_and_open_ended_boxes(video, tmp_path):
    _retarget_mdat(video)
    _decode(video)  # the doctored source is still valid
    out = tmp_path / "out.mp4"
    spherical.inject(str(video), str(out))
    assert spherical.read_spherical(str(out))["v2"]["projection"] == "equirectangular"
    frames = _decode(out)
    assert len(frames) == N
    assert np.abs(frames[-1].reshape(-1, 3).mean(axis=0) - COLOURS[-1]).max() < 12
