"""Frames without flicker: the motion maths, the render-pass files, and `python -m core frames`."""
import os

import numpy as np
import pytest

from core.media import colour
from core.scene import motion
from core.app.cli import main as cli_main
from core.errors import BrushworkError
from core.media.image_io import Picture, read_image, read_render_passes, write_image, write_render_passes
from core.training.evaluate import motion_sequence
from support import DATA


def moving_square(shift=4):
    """Two frames: a bright square at depth 5 moves right by `shift` px over a textured wall at depth 10."""
    rng = np.random.default_rng(0)
    wall = rng.uniform(0.2, 0.4, (32, 48, 3)).astype(np.float32)
    frames, depths, backs, fwds = [], [], [], []
    for t in range(2):
        img, z = wall.copy(), np.full((32, 48), 10.0, np.float32)
        c0 = 10 + shift * t
        img[8:20, c0:c0 + 12] = 0.9
        z[8:20, c0:c0 + 12] = 5.0
        back = np.zeros((32, 48, 2), np.float32)   # where each pixel was one frame earlier
        fwd = np.zeros((32, 48, 2), np.float32)    # where it will be one frame later
        back[8:20, c0:c0 + 12, 1] = -shift
        fwd[8:20, c0:c0 + 12, 1] = shift
        frames.append(img), depths.append(z), backs.append(back), fwds.append(fwd)
    return frames, depths, backs, fwds


def test_vector_pass_convention_round_trips():
    rng = np.random.default_rng(1)
    back, fwd = rng.normal(size=(2, 5, 7, 2)).astype(np.float32)
    v = motion.to_vector(back, fwd)
    # Blender: R,G = previous − current, B,A = current − next, y up (rows go down).
    assert np.allclose(v[..., 0], back[..., 1]) and np.allclose(v[..., 1], -back[..., 0])
    assert np.allclose(v[..., 2], -fwd[..., 1]) and np.allclose(v[..., 3], fwd[..., 0])
    assert np.allclose(motion.backward_flow(v), back) and np.allclose(motion.forward_flow(v), fwd)


def test_warp_moves_the_previous_frame_onto_the_current_one():
    frames, _, backs, _ = moving_square()
    warped, inside = motion.warp(frames[0], backs[1])
    square = np.zeros((32, 48), bool)
    square[8:20, 14:26] = True
    assert np.allclose(warped[square], frames[1][square])  # the square arrives where it now is
    assert inside.all()


def test_disocclusion_is_masked_by_consistency_and_by_depth():
    frames, depths, backs, fwds = moving_square()
    revealed = np.zeros((32, 48), bool)
    revealed[8:20, 10:14] = True                   # wall the square uncovered
    by_motion = motion.valid_mask(backs[1], fwds[0])
    by_depth = motion.valid_mask(backs[1], None, depths[1], depths[0])
    both = motion.valid_mask(backs[1], fwds[0], depths[1], depths[0])
    for mask in (by_motion, by_depth, both):
        assert not mask[revealed].any()
        assert mask[~revealed].mean() > 0.97
    # The error of the warped previous frame is ~0 where valid, large where revealed.
    warped = motion.warp(frames[0], backs[1])[0]
    assert np.abs(warped - frames[1])[both].max() < 1e-5
    assert np.abs(warped - frames[1])[revealed].mean() > 0.3


def test_blend_keeps_revealed_pixels_and_pulls_seen_ones():
    frames, depths, backs, fwds = moving_square()
    valid = motion.valid_mask(backs[1], fwds[0], depths[1], depths[0])
    current = np.zeros_like(frames[1])
    prev = np.ones_like(frames[1])
    out = motion.blend(current, prev, valid, 0.6)
    assert np.allclose(out[~valid], 0)
    assert np.isclose(np.median(out[valid]), 0.6, atol=0.01)


def test_render_passes_round_trip_and_clear_errors(tmp_path):
    rng = np.random.default_rng(2)
    passes = {"Combined": rng.uniform(size=(6, 8, 4)).astype(np.float32),
              "Vector": rng.normal(size=(6, 8, 4)).astype(np.float32),
              "Depth": rng.uniform(1, 9, size=(6, 8)).astype(np.float32)}
    path = tmp_path / "frame_0001.exr"
    write_render_passes(str(path), passes)
    back = read_render_passes(str(path))
    assert set(back) == set(passes) and all(np.array_equal(back[k], passes[k]) for k in passes)
    vec_only = tmp_path / "vec.exr"
    write_render_passes(str(vec_only), {"Vector": passes["Vector"][..., :2]})
    with pytest.raises(BrushworkError, match="2 of 4 channels"):
        read_render_passes(str(vec_only), colour=False)
    with pytest.raises(BrushworkError, match="no colour"):
        read_render_passes(str(vec_only))


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    """8 frames of the test photo drifting and zooming, with the exact Vector pass of each."""
    root = tmp_path_factory.mktemp("seq")
    photo = colour.to_working(read_image(str(DATA / "photo.jpg")).color, False)
    frames, maps = motion_sequence(photo, frames=8, shift=(2.0, 1.0), zoom=0.01, margin=16)
    (root / "frames").mkdir()
    (root / "vectors").mkdir()
    for t, f in enumerate(frames):
        write_image(str(root / "frames" / f"shot_{t + 1}.png"), Picture(f.astype(np.float32), np.dtype(np.uint8), False, ""))
        write_render_passes(str(root / "vectors" / f"shot_{t + 1:04d}.exr"),
                            {"Vector": motion.affine_vectors(maps, t, f.shape[:2])})
    return root


def frames_cli(capfd, seq, out, *extra):
    rc = cli_main(["frames", str(seq / "frames"), str(DATA / "painting.jpg"), "-o", str(out),
                   "--vectors", str(seq / "vectors"), "--method", "wct-r31", "--quiet", *extra])
    return rc, *capfd.readouterr()


def test_motion_vectors_halve_the_flicker_and_a_rerun_resumes(capfd, sequence, tmp_path):
    rc, out, err = frames_cli(capfd, sequence, tmp_path / "steady")
    assert rc == 0, err
    flicker, alone = (float(x) for x in out.split("flicker (mean warp error, 0-255): ")[1]
                      .replace(")", "").split(" (frames alone: "))
    assert flicker < 0.5 * alone, out
    written = sorted(p.name for p in (tmp_path / "steady").iterdir())
    assert written == [f"shot_{t}.png" for t in range(1, 9)]   # natural order, named like the inputs
    first = (tmp_path / "steady" / "shot_1.png").read_bytes()
    rc, out, err = frames_cli(capfd, sequence, tmp_path / "steady")
    assert rc == 0 and "0 stylized now, 8 resumed" in out, (out, err)
    assert (tmp_path / "steady" / "shot_1.png").read_bytes() == first


def test_coherence_zero_is_the_frames_alone_and_an_mp4_comes_too(capfd, sequence, tmp_path):
    mp4 = tmp_path / "shot.mp4"
    rc, out, err = frames_cli(capfd, sequence, tmp_path / "alone", "--coherence", "0", "--video", str(mp4), "--fps", "12")
    assert rc == 0, err
    import imageio_ffmpeg
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(mp4))
    assert frames == 8 and not list(tmp_path.glob(".*partial*"))
    flicker, alone = (float(x) for x in out.split("0-255): ")[1].split(";")[0].replace(")", "")
                      .split(" (frames alone: "))
    assert flicker == pytest.approx(alone)


def test_frames_take_the_precision_and_stay_steady_in_bf16(capfd, sequence, tmp_path):
    """`frames --precision bf16` (the fast choice on AMX CPUs) runs the whole sequence in
    bf16: close to the fp32 frames, and the motion vectors still steady it."""
    pytest.importorskip("torch")
    runs = {}
    for precision in ("fp32", "bf16"):
        rc = cli_main(["frames", str(sequence / "frames"), str(DATA / "painting.jpg"), "-o", str(tmp_path / precision),
                       "--vectors", str(sequence / "vectors"), "--method", "linear-r31", "--quiet",
                       "--precision", precision, "--backend", "torch"])
        out, err = capfd.readouterr()
        assert rc == 0, err
        flicker, alone = (float(x) for x in out.split("flicker (mean warp error, 0-255): ")[1]
                          .replace(")", "").split(" (frames alone: "))
        assert flicker < 0.5 * alone, out
        runs[precision] = np.stack([read_image(str(tmp_path / precision / f"shot_{t}.png")).color
                                    for t in range(1, 9)]).astype(np.float32)
    diff = np.abs(runs["bf16"] - runs["fp32"]) * 255
    assert 0 < diff.max() <= 8 and diff.mean() < 0.5  # in /255: bf16 did run, and stays close


def test_bad_frames_input_is_one_clear_line(capfd, sequence, tmp_path):
    rc, out, err = frames_cli(capfd, sequence, sequence / "frames")
    assert rc == 2 and "is the frames folder" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    rc = cli_main(["frames", str(empty), str(DATA / "painting.jpg"), "-o", str(tmp_path / "o"), "--quiet"])
    assert rc == 2 and "no frames" in capfd.readouterr().err
    rc, out, err = frames_cli(capfd, sequence, tmp_path / "o2", "--coherence", "1")
    assert rc == 2 and "--coherence" in err


# --------------------------------------------------------------------------- depth-aware strokes

def test_depth_weight_is_zero_in_focus_and_one_far_away():
    from core.scene.depth import weight
    depth = np.array([[2.0, 4.0, 6.0, 1e10]], np.float32)
    w = weight(depth, focus=4.0, falloff=2.0)
    assert w.tolist() == [[1.0, 0.0, 1.0, 1.0]]
    assert weight(depth, 4.0, 2.0, "far").tolist() == [[0.0, 0.0, 1.0, 1.0]]
    assert weight(depth, 4.0, 4.0, "near")[0, 0] == pytest.approx(0.5)
    with pytest.raises(BrushworkError, match="falloff"):
        weight(depth, 4.0, 0.0)


def test_depth_picks_the_relu3_1_and_relu4_1_members_of_a_family(monkeypatch):
    from core.scene import depth
    for named in ("linear-r31", "linear-r41"):
        assert depth.methods(named, allow_untrained=True) == (("linear-r31", "linear-r41"), [])
    assert depth.methods("wct") == (("wct-r31", "wct"), [])
    from core.nets import weights
    for key in ("linear_r31", "linear_r41"):
        monkeypatch.setitem(weights.REGISTRY, key, weights.Entry(None, "not trained"))
    pair, notes = depth.methods("linear-r41")
    assert pair == ("wct-r31", "wct")
    assert notes == ["depth-aware: linear-r31 is not trained yet; wct-r31 paints the near side",
                     "depth-aware: linear-r41 is not trained yet; wct paints the far side"]
    assert depth.methods("linear-r41", allow_untrained=True) == (("linear-r31", "linear-r41"), [])


def _depth_runs(capfd, tmp_path, cases, *extra):
    """Stylize photo.jpg for each case (name → extra flags); the results and stderr."""
    outs, errs = {}, {}
    for name, flags in cases.items():
        rc = cli_main(["stylize", str(DATA / "photo.jpg"), str(DATA / "painting.jpg"), "-o", str(tmp_path / f"{name}.png"),
                       "--quiet", "--tile", "0", *flags, *extra])
        errs[name] = capfd.readouterr().err
        assert rc == 0, errs[name]
        outs[name] = read_image(str(tmp_path / f"{name}.png")).color
    return outs, errs


def _flat_depth(tmp_path, name, value):
    h, w = read_image(str(DATA / "photo.jpg")).color.shape[:2]
    write_render_passes(str(tmp_path / name), {"Depth": np.full((h, w), value, np.float32)})
    return ["--depth", str(tmp_path / name), "--focus", "2", "--falloff", "0.5"]


def test_depth_aware_paints_relu3_1_in_focus_and_relu4_1_away(capfd, tmp_path):
    """All in focus: exactly the pair's relu3_1 run; all far: its relu4_1 run (random
    weights for the untrained member, as asked)."""
    near, far = _flat_depth(tmp_path, "near.exr", 2.0), _flat_depth(tmp_path, "far.exr", 20.0)
    outs, errs = _depth_runs(capfd, tmp_path, {
        "in_focus": ["--method", "linear-r41", *near], "away": ["--method", "linear-r31", *far],
        "r31": ["--method", "linear-r31"], "r41": ["--method", "linear-r41"]}, "--allow-untrained")
    assert np.array_equal(outs["in_focus"], outs["r31"])
    assert np.abs(outs["away"] - outs["r41"]).max() <= 1 / 255 + 1e-6
    assert np.abs(outs["r31"] - outs["r41"]).mean() > 0.02  # the two really differ
    assert "paints the" not in errs["in_focus"] + errs["away"]  # the named pair, no fallback


def test_depth_aware_falls_back_to_wct_where_relu4_1_is_untrained(capfd, tmp_path, monkeypatch):
    """ccpl (relu4_1) untrained: ccpl-r31 paints what is in focus, wct the rest, and a
    warning says so; --far-scale still enlarges the far strokes."""
    from core.nets import weights
    monkeypatch.setitem(weights.REGISTRY, "ccpl_r41", weights.Entry(None, "not trained"))
    near, far = _flat_depth(tmp_path, "near.exr", 2.0), _flat_depth(tmp_path, "far.exr", 20.0)
    outs, errs = _depth_runs(capfd, tmp_path, {
        "in_focus": ["--method", "ccpl", *near], "away": ["--method", "ccpl", *far],
        "away2": ["--method", "ccpl-r31", *far, "--far-scale", "2"],
        "r31": ["--method", "ccpl-r31"], "wct": ["--method", "wct"], "wct2": ["--method", "wct", "--style-scale", "2"]})
    assert np.array_equal(outs["in_focus"], outs["r31"])
    assert np.abs(outs["away"] - outs["wct"]).max() <= 1 / 255 + 1e-6
    assert np.abs(outs["away2"] - outs["wct2"]).max() <= 1 / 255 + 1e-6
    assert np.abs(outs["wct"] - outs["wct2"]).mean() > 0.01
    for name in ("in_focus", "away", "away2"):
        assert "depth-aware: ccpl is not trained yet; wct paints the far side" in errs[name], errs[name]


def test_a_depth_aware_job_cancelled_in_its_far_half_writes_nothing(tmp_path):
    from core.errors import Cancelled
    from core.jobs import image
    job = image.Job(content=str(DATA / "photo.jpg"), styles=[str(DATA / "painting.jpg")], method="wct-r31",
                    output=str(tmp_path / "out" / "r.png"), depth=str(tmp_path / "z.exr"), focus=2.0, falloff=1.0)
    (tmp_path / "out").mkdir()
    write_render_passes(job.depth, {"Depth": np.full((192, 192), 20.0, np.float32)})
    stages = []
    with pytest.raises(Cancelled):
        image.run(job, lambda f, stage: stages.append((f, stage)),
                  cancel=lambda: any(stage.startswith("wct ") for _, stage in stages))
    assert {s.split()[0] for _, s in stages} == {"wct-r31", "wct"}  # each half's stages named by its method
    assert min(f for f, s in stages if s.startswith("wct ")) >= 0.5
    assert os.listdir(tmp_path / "out") == []


def test_depth_aware_mixes_by_distance_and_checks_the_map(capfd, tmp_path):
    """Left half in focus, right half far: the left matches the relu3_1 run, the right the
    relu4_1 one; a map of the wrong size or without a Depth pass is refused."""
    photo = read_image(str(DATA / "photo.jpg"))
    h, w = photo.color.shape[:2]
    depth = np.full((h, w), 2.0, np.float32)
    depth[:, w // 2:] = 20.0
    write_render_passes(str(tmp_path / "z.exr"), {"Depth": depth})
    outs, _ = _depth_runs(capfd, tmp_path, {
        "aware": ["--method", "wct-r31", "--depth", str(tmp_path / "z.exr"), "--focus", "2", "--falloff", "5"],
        "fine": ["--method", "wct-r31"], "coarse": ["--method", "wct"]})
    left, right = np.s_[:, : w // 2 - 8], np.s_[:, w // 2 + 8:]
    assert np.abs(outs["aware"][left] - outs["fine"][left]).max() < 2 / 255
    assert np.abs(outs["aware"][right] - outs["coarse"][right]).max() < 2 / 255
    assert np.abs(outs["fine"][right] - outs["coarse"][right]).mean() > 0.02  # the two really differ
    write_render_passes(str(tmp_path / "small.exr"), {"Depth": depth[:8, :8]})
    rc = cli_main(["stylize", str(DATA / "photo.jpg"), str(DATA / "painting.jpg"), "-o", str(tmp_path / "x.png"),
                   "--depth", str(tmp_path / "small.exr"), "--quiet"])
    assert rc == 2 and "depth is 8×8" in capfd.readouterr().err
    write_render_passes(str(tmp_path / "nodepth.exr"), {"Vector": np.zeros((h, w, 4), np.float32)})
    rc = cli_main(["stylize", str(DATA / "photo.jpg"), str(DATA / "painting.jpg"), "-o", str(tmp_path / "y.png"),
                   "--depth", str(tmp_path / "nodepth.exr"), "--quiet"])
    assert rc == 2 and "no Depth (Z) pass" in capfd.readouterr().err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


@pytest.mark.parametrize("interpolation", ["nearest", "linear", "cubic"])
def test_the_numpy_warp_matches_opencv(monkeypatch, interpolation):
    """The extension has no OpenCV: its numpy warp and mask blur must do what OpenCV's do."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:40, 0:56] / 8.0
    image = np.stack([np.sin(x + y), np.cos(1.3 * x), rng.random((40, 56))], -1).astype(np.float32)
    flow = np.stack([1.7 * np.sin(x / 3), -2.3 + np.cos(y / 2)], -1).astype(np.float32)
    valid = rng.random((40, 56)) > 0.3
    with_cv2 = motion.warp(image, flow, interpolation)
    blurred = motion._soften(valid.astype(np.float32), 1.5)
    monkeypatch.setattr(motion, "cv2", None)
    without = motion.warp(image, flow, interpolation)
    assert np.array_equal(with_cv2[1], without[1])
    inner = (slice(4, -4), slice(4, -4))   # borders: both repeat the edge, sampled slightly differently
    tol = {"nearest": 1e-6, "linear": 0.005, "cubic": 0.01}[interpolation]  # OpenCV rounds fractions to 1/32
    assert np.abs(with_cv2[0][inner] - without[0][inner]).mean() < tol
    assert np.abs(motion._soften(valid.astype(np.float32), 1.5) - blurred).max() < 0.01
