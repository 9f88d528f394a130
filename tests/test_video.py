"""Movie files in, stylized movie files out: `python -m core video`, DIS flow, bad input."""
import os
import signal
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pytest

from core.jobs import movie as clip
from core.scene import flow, motion
from core.media import video
from core.errors import Cancelled
import support
from support import DATA, ROOT, audio_seconds, encode, photo_frames, streams  # noqa: F401

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def run_cli(capfd, *args):
    """`brushwork video ARGS --quiet` in-process → (exit code, stdout, stderr)."""
    return support.run_cli(capfd, "video", *args, "--quiet")


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    """1 s of the test photo drifting and zooming at 12 fps, with a tone."""
    frames, _ = photo_frames(12)
    return encode(tmp_path_factory.mktemp("movie") / "drift.mp4", frames)


def test_dis_flow_finds_the_known_motion():
    frames, maps = photo_frames(2)
    rgb = [f.astype(np.float32) / 255 for f in frames]
    back, fwd = flow.Flow().between(*rgb)
    true_back = motion.backward_flow(motion.affine_vectors(maps, 1, rgb[1].shape[:2]))
    true_fwd = motion.forward_flow(motion.affine_vectors(maps, 0, rgb[0].shape[:2]))
    assert np.abs(true_back).mean() > 1.0                       # there is motion to find
    assert np.abs(back - true_back).mean() < 0.25
    assert np.abs(fwd - true_fwd).mean() < 0.25
    _, valid = flow.Flow().steady_mask(*rgb)
    assert valid.mean() > 0.9


def test_movie_in_movie_out_keeps_rate_size_sound_and_steadies(capfd, moving, style, tmp_path):
    out = tmp_path / "drift_styl.mp4"
    rc, text, err = run_cli(capfd, moving, style, "-o", out, "--method", "wct-r31")
    assert rc == 0, err
    assert os.listdir(tmp_path) == ["drift_styl.mp4"]                       # no temporary file left
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert frames == 12
    v, a, _ = streams(out)
    assert "h264" in v and "160x160" in v and " 12 fps" in v and "SAR 1:1" in v
    assert a is not None and "aac" in a
    assert abs(audio_seconds(out) - audio_seconds(moving)) <= 1 / 12
    flicker, alone = (float(x) for x in text.split("0-255): ")[1].replace(")", "").split(" (frames alone: "))
    assert flicker < 0.6 * alone, text
    # The sound is copied, not re-encoded: the very same packets.
    pkts = [subprocess.run([FFMPEG, "-v", "error", "-i", str(p), "-map", "0:a", "-c", "copy", "-f", "data", "-"],
                           capture_output=True, check=True).stdout for p in (moving, out)]
    assert pkts[0] == pkts[1]


def test_coherence_none_is_each_frame_alone(moving, style, tmp_path):
    seen = []
    job = clip.VideoJob(movie=str(moving), styles=[style], output=str(tmp_path / "alone.mp4"), method="wct-r31",
                        coherence="none", end=0.25)
    r = clip.run(job, on_frame=lambda i, c, a, o: seen.append(np.array_equal(a, o)))
    assert r.frames == 3 and seen == [True] * 3 and r.flicker is None


def test_odd_size_and_pixel_aspect_round_trip_over_a_range(capfd, style, tmp_path):
    frames, _ = photo_frames(24)
    src = encode(tmp_path / "odd.mp4", [f[:77, :101] for f in frames], extra=["-vf", "setsar=4/3"])
    out = tmp_path / "odd_styl.mp4"
    rc, text, err = run_cli(capfd, src, style, "-o", out, "--method", "wct-r31", "--start", "0.5", "--end", "1.5")
    assert rc == 0, err
    assert "odd size 101×77" in err
    v, a, _ = streams(out)
    assert "101x77" in v and "SAR 4:3" in v and " 12 fps" in v
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 12
    assert abs(audio_seconds(out) - 1.0) <= 1 / 12
    first = next(video.read_movie(video.probe(str(out))))
    assert first.shape == (77, 101, 3)


def test_sigterm_stops_cleanly_and_leaves_no_file(moving, style, tmp_path):
    out = tmp_path / "cut.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "core", "video", str(moving), style, "-o", str(out),
                             "--method", "wct-r31"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    seen = ""
    while "frame 3/" not in seen:       # progress lines arrive every 10 %
        line = proc.stderr.readline()
        assert line, f"ended before frame 3: {seen}"
        seen += line
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, seen + rest
    assert "interrupted; nothing was written" in rest
    assert os.listdir(tmp_path) == []


def test_cancel_between_frames_leaves_no_file(moving, style, tmp_path):
    calls = []
    cancel = lambda: calls.append(1) or len(calls) > 40  # noqa: E731  (asked per tile and per frame)
    job = clip.VideoJob(movie=str(moving), styles=[style], output=str(tmp_path / "c.mp4"), method="wct-r31")
    with pytest.raises(Cancelled):
        clip.run(job, cancel=cancel)
    assert os.listdir(tmp_path) == []


def test_bad_movies_are_one_clear_line(capfd, style, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a movie")
    rc, _, err = run_cli(capfd, text, style, "-o", tmp_path / "o.mp4")
    assert rc == 2 and err.strip() == f"brushwork: error: {text}: not a video file ffmpeg can read"
    tone = tmp_path / "tone.m4a"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac", str(tone)], check=True)
    rc, _, err = run_cli(capfd, tone, style, "-o", tmp_path / "o.mp4")
    assert rc == 2 and "no video stream" in err and len(err.strip().splitlines()) == 1
    still = tmp_path / "photo.png"
    still.write_bytes((DATA / "photo.jpg").read_bytes())
    rc, _, err = run_cli(capfd, tmp_path / "missing.mp4", style, "-o", tmp_path / "o.mp4")
    assert rc == 2 and "no such file" in err
    frames, _ = photo_frames(3)
    src = encode(tmp_path / "src.mp4", frames, sound=False)
    for args, msg in (([src, style, "-o", src, "--overwrite"], "is the input"),
                      ([src, style, "-o", tmp_path / "o.mov"], "name an .mp4"),
                      ([src, style, "-o", tmp_path / "o.mp4", "--start", "9"], "only 0.25 s long"),
                      ([src, style, "-o", tmp_path / "o.mp4", "--coherence", "wobbly"], "invalid choice")):
        rc, _, err = run_cli(capfd, *args)
        assert rc == 2 and msg in err, err
    assert sorted(os.listdir(tmp_path)) == ["notes.mp4", "photo.png", "src.mp4", "tone.m4a"]


@pytest.mark.parametrize("kind", ["vfr", "10bit", "hdr"])
def test_variable_rate_10_bit_and_hdr_sources_come_out_right(capfd, style, tmp_path, kind):
    frames, _ = photo_frames(10)
    frames = [f[:64, :96] for f in frames]
    extra = {"vfr": ["-vf", "setpts='if(lt(N,5),N/10,0.5+(N-5)/5)/TB'", "-fps_mode", "vfr"],
             "10bit": ["-pix_fmt", "yuv420p10le"],
             "hdr": ["-pix_fmt", "yuv420p10le", "-x264-params",
                     "colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc"]}[kind]
    src = encode(tmp_path / f"{kind}.mp4", frames, "10", sound=kind == "vfr", extra=extra)
    out = tmp_path / "out.mp4"
    rc, text, err = run_cli(capfd, src, style, "-o", out, "--method", "wct-r31")
    assert rc == 0, err
    note = {"vfr": "variable frame rate: resampled to a constant 10.000 fps",
            "10bit": "10-bit source (yuv420p10le): stylized and written as 8-bit",
            "hdr": "HDR10/PQ HDR source: tone-mapped to SDR Rec.709"}[kind]
    assert note in err
    v, a, header = streams(out)
    assert " 10 fps" in v and "yuv420p" in v and "10le" not in v
    n, secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    if kind == "vfr":   # 5 frames 0.1 s apart, then 5 frames 0.2 s apart: 1.4 s at a steady 10 fps
        assert n == 14 and abs(audio_seconds(out) - audio_seconds(src)) <= 0.1
    else:
        assert n == 10
    if kind == "hdr":
        assert "bt709" in v and "smpte2084" not in v
        assert video.probe(str(src)).hdr == "HDR10/PQ"


def test_the_worker_runs_a_movie_job(capfd, moving, style, tmp_path):
    import io
    import json
    from core.app import worker
    from support import check_protocol

    def work(spec):
        stdout = io.StringIO()
        rc = worker.main(io.StringIO(json.dumps(spec)), stdout)
        return rc, check_protocol([json.loads(ln) for ln in stdout.getvalue().splitlines()])

    spec = {"movie": str(moving), "styles": [style], "output": str(tmp_path / "w.mp4"), "method": "wct-r31",
            "end": 0.5}
    rc, result = work(spec)
    assert rc == 0 and result["status"] == "ok", result
    assert result["frames"] == 6 and result["fps"] == 12 and result["flicker"] < result["flicker_alone"]
    assert imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "w.mp4"))[0] == 6
    rc, result = work({**spec, "output": str(tmp_path / "x.mp4"), "coherence": "optical"})
    assert rc == 2 and "'coherence' must be a number (frames) or flow/none (movie)" in result["message"]
    rc, result = work({**spec, "output": str(tmp_path / "x.mp4"), "coherence": 0.5})
    assert rc == 2 and "coherence 0.5: use flow or none" in result["message"]
    assert sorted(os.listdir(tmp_path)) == ["w.mp4"]


def test_the_handheld_clip_holds_still_with_flow(style, tmp_path):
    """The carried stand-in for filmed footage (tests/data/README.md): shake, a moving disc,
    noise, H.264. Half a second of it, flow against frames alone, on the same frames."""
    kept = []
    job = clip.VideoJob(movie=str(DATA / "handheld.mp4"), styles=[style], output=str(tmp_path / "h.mp4"),
                        method="linear-r31", end=0.5)
    r = clip.run(job, on_frame=lambda i, c, a, o: kept.append(float(np.abs(a - o).mean())))
    assert r.frames == 12 and (r.width, r.height, r.fps) == (320, 180, 24)
    assert r.flicker < 0.5 * r.flicker_alone, (r.flicker, r.flicker_alone)
    assert kept[0] == 0 and min(kept[1:]) > 0          # the first frame has nothing to carry
    assert streams(tmp_path / "h.mp4")[1] is not None


def test_a_sideways_phone_clip_comes_out_upright(capfd, style, tmp_path):
    """Phones store sideways pixels plus a display rotation; the result is upright pixels
    with no rotation left to apply, and the pixel aspect turned with them."""
    frames, _ = photo_frames(6)
    flat = encode(tmp_path / "flat.mp4", [f[:64, :96] for f in frames], extra=["-vf", "setsar=3/2"])
    turned = tmp_path / "phone.mp4"
    subprocess.run([FFMPEG, "-v", "error", "-display_rotation:v", "90", "-i", str(flat), "-c", "copy", str(turned)],
                   check=True)
    assert video.probe(str(turned)).rotation == 90
    out = tmp_path / "upright.mp4"
    rc, text, err = run_cli(capfd, turned, style, "-o", out, "--method", "wct-r31", "--end", "0.25")
    assert rc == 0, err
    assert err.strip() == "brushwork: warning: the source is shown rotated by 90°: stylized and written upright"
    v, _, header = streams(out)
    assert "64x96" in v and "SAR 2:3" in v and "rotation" not in header
