"""`python -m core stylize`: what a user of the command line is promised.

Round trips keep size, bit depth, channels and alpha; every mistake is exit 2 with one
`brushwork: error:` line naming the culprit and nothing left in the output folder; Ctrl-C
is exit 130 with nothing written. Most runs call `core.app.cli.main` in-process (capfd also
sees what C libraries write to fd 2); real processes only where the boundary matters.
Every run passes --allow-untrained, so methods not trained yet run too.
"""
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
from PIL import Image

from core.app import cli
from core.nets import weights
from core.engine.stylizer import default_method
from core.engine.methods import METHODS
from core.media.image_io import read_image
from support import run_cli
from imaging import photo as _photo, save

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
H, W = 45, 61  # not multiples of the encoder's stride: the crop back to size is exercised


def photo(h=H, w=W, seed=0):
    return _photo(h, w, seed)


@pytest.fixture
def content(tmp_path):
    return save(tmp_path / "content.png", photo())


@pytest.fixture(autouse=True)
def opencv_default_logging():
    """Each test starts with OpenCV's default log level, which the CLI silences (a global)."""
    level = cv2.getLogLevel()
    cv2.setLogLevel(3)  # LOG_LEVEL_WARNING, OpenCV's default
    yield
    cv2.setLogLevel(level)


run = run_cli   # (exit code, stdout, stderr) of the CLI in-process


def stylize(capfd, content, styles, output, *options):
    styles = [styles] if isinstance(styles, str) else styles
    return run(capfd, "stylize", content, *styles, "-o", output, "--allow-untrained", "--quiet", *options)


def assert_ok(rc, err, output):
    assert rc == 0, err
    assert "Traceback" not in err
    assert "brushwork: error" not in err
    assert Path(output).is_file()


def assert_refused(rc, err, names, folder, before=()):
    """Exit 2; stderr is warnings then exactly one error line, naming each of `names`;
    `folder` holds exactly what it held before (no output, no hidden temp file)."""
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines, "no message on stderr"
    errors = [line for line in lines if line.startswith("brushwork: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert all(line.startswith("brushwork: warning:") for line in lines[:-1]), err
    for name in names:
        assert name in errors[0], errors[0]
    assert sorted(os.listdir(folder)) == sorted(before)
    return errors[0]


# --------------------------------------------------------------------------- round trips


def test_rgb_png_stays_8bit_rgb(capfd, style, content, out_dir):
    out = out_dir / "result.png"
    rc, stdout, err = stylize(capfd, content, style, out)
    assert_ok(rc, err, out)
    assert "result.png" in stdout
    untrained = not all(weights.is_trained(k) for k in METHODS[default_method()].models)
    assert ("RANDOM" in err) == untrained  # untrained runs say so, trained ones don't
    with Image.open(out) as im:
        assert (im.format, im.mode, im.size) == ("PNG", "RGB", (W, H))
        pixels = np.asarray(im)
    assert pixels.std() > 2  # a picture, not a blank
    assert os.listdir(out_dir) == ["result.png"]  # no temp file beside it


def test_16bit_rgba_png_keeps_depth_and_exact_alpha(capfd, style, tmp_path, out_dir):
    y, x = np.mgrid[0:H, 0:W]
    alpha = np.rint((y * W + x) * 65535 / (H * W - 1)).astype(np.uint16)  # 0 … 65535, odd steps
    assert len(np.unique(alpha)) == H * W
    rgb16 = np.rint(photo() * 65535).astype(np.uint16)
    src = tmp_path / "rgba16.png"
    cv2.imwrite(str(src), np.dstack([rgb16[..., ::-1], alpha]))
    assert cv2.imread(str(src), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    out = out_dir / "rgba16_out.png"
    rc, _, err = stylize(capfd, src, style, out)
    assert_ok(rc, err, out)
    got = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert got.dtype == np.uint16 and got.shape == (H, W, 4)
    assert np.array_equal(got[..., 3], alpha)
    assert len(np.unique(got[..., :3])) > 256  # 16-bit colour, not 8-bit scaled up


def test_gray_png_stays_gray(capfd, style, tmp_path, out_dir):
    src = tmp_path / "gray.png"
    Image.fromarray(np.rint(photo()[..., 1] * 255).astype(np.uint8), "L").save(src)
    out = out_dir / "gray_out.png"
    rc, _, err = stylize(capfd, src, style, out)
    assert_ok(rc, err, out)
    with Image.open(out) as im:
        assert (im.mode, im.size) == ("L", (W, H))
    assert read_image(out).pixels.shape == (H, W, 1)


def test_float_exr_stays_linear_float_exr(capfd, style, tmp_path, out_dir):
    linear = photo() ** 2.2 * 4.0  # scene-linear, highlights well above 1
    assert linear.max() > 1.5
    src = save(tmp_path / "render.exr", linear, np.float32, linear=True)
    out = out_dir / "render_out.exr"
    rc, _, err = stylize(capfd, src, style, out)
    assert_ok(rc, err, out)
    with open(out, "rb") as f:
        channels = OpenEXR.File(f, separate_channels=True).channels()
    assert set(channels) == {"R", "G", "B"}
    assert all(c.pixels.dtype.kind == "f" and c.pixels.shape == (H, W) for c in channels.values())
    pic = read_image(out)
    assert pic.linear and pic.dtype.kind == "f" and pic.pixels.shape == (H, W, 3)
    assert 0 <= pic.pixels.min() and pic.pixels.max() <= 1 + 1e-6  # documented: clipped to [0, 1]
    assert pic.pixels.std() > 0.01


def test_jpeg_in_jpeg_out(capfd, style, tmp_path, out_dir):
    src = tmp_path / "holiday.jpg"
    Image.fromarray(np.rint(photo() * 255).astype(np.uint8)).save(src, quality=95)
    out = out_dir / "holiday_out.jpg"
    rc, _, err = stylize(capfd, src, style, out)
    assert_ok(rc, err, out)
    with Image.open(out) as im:
        assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (W, H))


def test_the_bundled_photo_and_painting(capfd, out_dir):
    out = out_dir / "demo.png"
    rc, _, err = stylize(capfd, DATA / "photo.jpg", str(DATA / "painting.jpg"), out)
    assert_ok(rc, err, out)
    with Image.open(DATA / "photo.jpg") as a, Image.open(out) as b:
        assert a.size == b.size


@pytest.mark.parametrize("options", [
    ["--style-scale", "2"],
    ["--wrap", "both"],
    ["--wrap", "x", "--tile", "128"],
    ["--tile", "0"],
    ["--method", "linear-r31"],
    ["--method", "ccpl"],
    ["--strength", "0"],
], ids=lambda o: " ".join(o))
def test_options_produce_an_output(capfd, style, content, out_dir, options):
    out = out_dir / "result.png"
    rc, _, err = stylize(capfd, content, style, out, *options)
    assert_ok(rc, err, out)
    assert read_image(out).pixels.shape == (H, W, 3)
    assert os.listdir(out_dir) == ["result.png"]


def test_two_styles_with_weights(capfd, style, content, out_dir):
    second = save(out_dir.parent / "second_style.png", photo(80, 96, seed=5)[..., ::-1])
    outs = {}
    for weights in ("0.3,0.7", "1,0"):
        out = out_dir / f"mix_{weights.replace(',', '_')}.png"
        rc, _, err = stylize(capfd, content, [style, second], out, "--style-weights", weights)
        assert_ok(rc, err, out)
        outs[weights] = read_image(out).pixels
    alone = out_dir / "alone.png"
    assert_ok(*stylize(capfd, content, style, alone)[::2], alone)
    # weight 1,0 is the first style alone; 0.3,0.7 is really a different mix
    assert np.abs(outs["1,0"] - read_image(alone).pixels).max() <= 1 / 255 + 1e-6
    assert np.abs(outs["0.3,0.7"] - outs["1,0"]).max() > 2 / 255


def test_preserve_color_keeps_the_content_chroma(capfd, style, tmp_path, out_dir):
    # Muted colours: a painting's brighter luma pushes saturated ones out of gamut, and a
    # clipped pixel cannot keep its chroma, so a vivid photo would leave little to check.
    content = save(tmp_path / "muted.png", 0.5 + 0.5 * (photo() - 0.5))
    out = out_dir / "kept.png"
    rc, _, err = stylize(capfd, content, style, out, "--preserve-color")
    assert_ok(rc, err, out)
    src, res = read_image(content).pixels, read_image(out).pixels
    inside = ((res > 2 / 255) & (res < 253 / 255)).all(axis=2)  # not clipped
    assert inside.mean() > 0.5  # enough unclipped pixels that the check below means something
    for a, b in ((0, 1), (2, 1)):  # R−G and B−G: the colour differences luma shifts keep
        diff = (res[..., a] - res[..., b]) - (src[..., a] - src[..., b])
        assert np.abs(diff[inside]).max() <= 2.5 / 255
    assert np.abs(res - src).max() > 4 / 255  # and it was stylized all the same


# --------------------------------------------------------------------------- refusals


def test_missing_content(capfd, style, tmp_path, out_dir):
    handler = signal.getsignal(signal.SIGTERM)
    rc, out, err = stylize(capfd, tmp_path / "nowhere.png", style, out_dir / "r.png")
    assert_refused(rc, err, ["nowhere.png"], out_dir)
    assert out == ""
    assert signal.getsignal(signal.SIGTERM) is handler  # main() in-process puts it back


def test_missing_style(capfd, content, tmp_path, out_dir):
    rc, _, err = stylize(capfd, content, str(tmp_path / "no_such_painting.jpg"), out_dir / "r.png")
    assert_refused(rc, err, ["no_such_painting.jpg"], out_dir)


def _png_bytes(pixels):
    ok, data = cv2.imencode(".png", pixels)
    assert ok
    return data.tobytes()


@pytest.mark.parametrize("case", ["corrupt", "truncated", "empty", "folder", "bmp", "gif"])
def test_unreadable_content(capfd, style, tmp_path, out_dir, case):
    rng = np.random.default_rng(3)
    if case == "corrupt":
        src = tmp_path / "corrupt.png"
        src.write_bytes(rng.bytes(2000))
    elif case == "truncated":
        src = tmp_path / "truncated.png"
        full = _png_bytes((photo(64, 64) * 255).astype(np.uint8))
        src.write_bytes(full[: len(full) // 2])
    elif case == "empty":
        src = tmp_path / "empty.png"
        src.write_bytes(b"")
    elif case == "folder":
        src = tmp_path / "renders.png"
        src.mkdir()
    else:
        src = tmp_path / f"old_format.{case}"
        Image.fromarray((photo() * 255).astype(np.uint8)).save(src)
    rc, _, err = stylize(capfd, src, style, out_dir / "r.png")
    msg = assert_refused(rc, err, [src.name], out_dir)
    if case in ("bmp", "gif"):
        assert "unsupported" in msg


@pytest.mark.parametrize("ext", [".bmp", ".gif", ".webp", ""])
def test_unsupported_output_format(capfd, style, content, out_dir, ext):
    rc, _, err = stylize(capfd, content, style, out_dir / f"result{ext}")
    assert_refused(rc, err, [f"result{ext}"], out_dir)


def _huge_png_header(path, width, height):
    """A PNG whose IHDR claims width×height and has no pixel data: judged by the header."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_huge_content_refused_from_its_header(capfd, style, tmp_path, out_dir, monkeypatch):
    src = tmp_path / "gigapixel.png"
    _huge_png_header(src, 40000, 40000)

    def no_decoding(*args, **kwargs):
        raise AssertionError("a 1600 Mpx image must be refused before decoding")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    rc, _, err = stylize(capfd, src, style, out_dir / "r.png")
    msg = assert_refused(rc, err, ["gigapixel.png"], out_dir)
    assert "40000×40000" in msg


def test_huge_style_refused(capfd, content, tmp_path, out_dir):
    src = tmp_path / "mural.png"
    _huge_png_header(src, 40000, 40000)
    rc, _, err = stylize(capfd, content, str(src), out_dir / "r.png")
    assert_refused(rc, err, ["mural.png"], out_dir)


def test_tiny_style(capfd, content, tmp_path, out_dir):
    tiny = save(tmp_path / "thumbnail.png", photo(40, 40, seed=2))
    rc, _, err = stylize(capfd, content, tiny, out_dir / "r.png")
    msg = assert_refused(rc, err, ["thumbnail.png"], out_dir)
    assert "40×40" in msg


def test_flat_style(capfd, content, tmp_path, out_dir):
    flat = save(tmp_path / "plain_blue.png", np.full((256, 256, 3), [0.2, 0.3, 0.8]))
    rc, _, err = stylize(capfd, content, flat, out_dir / "r.png")
    msg = assert_refused(rc, err, ["plain_blue.png"], out_dir)
    assert "flat" in msg


def test_tiny_content(capfd, style, tmp_path, out_dir):
    src = save(tmp_path / "icon.png", photo(20, 64))
    rc, _, err = stylize(capfd, src, style, out_dir / "r.png")
    assert_refused(rc, err, ["icon.png"], out_dir)


def test_output_equal_to_content_is_refused_even_with_overwrite(capfd, style, tmp_path):
    src = tmp_path / "original.png"
    save(src, photo())
    before = src.read_bytes()
    listing = os.listdir(tmp_path)
    for extra in ([], ["--overwrite"]):
        rc, _, err = stylize(capfd, src, style, src, *extra)
        assert_refused(rc, err, ["original.png"], tmp_path, listing)
        assert src.read_bytes() == before
    # the same file under another name is the same file
    link = tmp_path / "shortcut.png"
    link.symlink_to(src)
    rc, _, err = stylize(capfd, src, style, f"{tmp_path}/./shortcut.png", "--overwrite")
    assert_refused(rc, err, ["shortcut.png"], tmp_path, listing + ["shortcut.png"])
    assert src.read_bytes() == before


def test_output_equal_to_style_is_refused(capfd, content, tmp_path):
    painting = save(tmp_path / "painting.png", photo(80, 80, seed=9))
    before = Path(painting).read_bytes()
    listing = os.listdir(tmp_path)
    rc, _, err = stylize(capfd, content, painting, painting, "--overwrite")
    assert_refused(rc, err, ["painting.png"], tmp_path, listing)
    assert Path(painting).read_bytes() == before


def test_existing_output_is_kept_without_overwrite(capfd, style, content, out_dir):
    out = out_dir / "precious.png"
    out.write_bytes(b"not really a png, but the user's file")
    before = out.read_bytes()
    rc, _, err = stylize(capfd, content, style, out)
    msg = assert_refused(rc, err, ["precious.png"], out_dir, ["precious.png"])
    assert "--overwrite" in msg
    assert out.read_bytes() == before
    rc, _, err = stylize(capfd, content, style, out, "--overwrite")  # and with it, replaced
    assert_ok(rc, err, out)
    assert read_image(out).pixels.shape == (H, W, 3)
    assert os.listdir(out_dir) == ["precious.png"]


def test_output_is_a_folder(capfd, style, content, out_dir):
    (out_dir / "renders.png").mkdir()
    rc, _, err = stylize(capfd, content, style, out_dir / "renders.png", "--overwrite")
    assert_refused(rc, err, ["renders.png"], out_dir, ["renders.png"])
    assert "warning" not in err  # refused before any network was loaded


def test_missing_output_folder(capfd, style, content, out_dir):
    rc, _, err = stylize(capfd, content, style, out_dir / "not_there" / "r.png")
    assert_refused(rc, err, ["not_there"], out_dir)


def test_normal_map_by_name(capfd, style, tmp_path, out_dir):
    src = save(tmp_path / "wood_normal.png", photo())
    rc, _, err = stylize(capfd, src, style, out_dir / "r.png")
    msg = assert_refused(rc, err, ["wood_normal.png"], out_dir)
    assert "--force-color" in msg
    rc, _, err = stylize(capfd, src, style, out_dir / "r.png", "--force-color")
    assert_ok(rc, err, out_dir / "r.png")


def test_normal_map_by_pixels(capfd, style, tmp_path, out_dir):
    rng = np.random.default_rng(4)
    bluish = np.clip(np.array([0.5, 0.5, 1.0]) + rng.normal(0, 0.04, (H, W, 3)) * [1, 1, 0.3], 0, 1)
    src = save(tmp_path / "texture_01.png", bluish)
    rc, _, err = stylize(capfd, src, style, out_dir / "r.png")
    msg = assert_refused(rc, err, ["texture_01.png"], out_dir)
    assert "normal map" in msg and "--force-color" in msg
    rc, _, err = stylize(capfd, src, style, out_dir / "r.png", "--force-color")
    assert_ok(rc, err, out_dir / "r.png")


@pytest.mark.parametrize("options, option", [
    (["--strength", "1.5"], "--strength"),
    (["--strength", "-0.1"], "--strength"),
    (["--tile", "16"], "--tile"),
    (["--style-scale", "100"], "--style-scale"),
    (["--style-weights", "0.3,0.7"], "--style-weights"),  # one style, two weights
    (["--style-weights", "0,0"], "--style-weights"),
    (["--style-weights", "0.3,x"], "--style-weights"),  # argparse's own refusal, same shape
    (["--method", "pix2pix"], "--method"),
    (["--wrap", "diagonal"], "--wrap"),
    (["--tile", "many"], "--tile"),
    (["--frobnicate"], "--frobnicate"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_options(capfd, style, content, out_dir, options, option):
    styles = [style, style] if options[-1] == "0,0" else [style]
    rc, _, err = stylize(capfd, content, styles, out_dir / "r.png", *options)
    assert_refused(rc, err, [option], out_dir)


def test_two_styles_one_weight(capfd, style, content, out_dir):
    rc, _, err = stylize(capfd, content, [style, style], out_dir / "r.png", "--style-weights", "1")
    assert_refused(rc, err, ["--style-weights"], out_dir)


def test_cuda_without_cuda(capfd, style, content, out_dir):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    rc, _, err = stylize(capfd, content, style, out_dir / "r.png", "--device", "cuda")
    assert_refused(rc, err, ["--device cuda"], out_dir)


def test_missing_weights_without_allow_untrained(capfd, style, content, out_dir, monkeypatch):
    """Every method ships trained today: a registry entry without weights stands in for
    the next untrained model (the refusal needs one to refuse)."""
    monkeypatch.setitem(weights.REGISTRY, "linear_r41", weights.Entry(None, "not trained"))
    rc, _, err = run(capfd, "stylize", content, style, "-o", out_dir / "r.png", "--quiet",
                     "--method", "linear-r41")
    assert_refused(rc, err, ["weights", "--allow-untrained"], out_dir)
    assert "RANDOM" not in err


def test_alpha_to_jpeg_is_refused(capfd, style, tmp_path, out_dir):
    src = tmp_path / "cutout.png"
    rgba = np.dstack([photo(), np.linspace(0, 1, W)[None, :].repeat(H, 0)])
    save(src, rgba)
    rc, _, err = stylize(capfd, src, style, out_dir / "cutout.jpg")
    msg = assert_refused(rc, err, ["cutout.jpg"], out_dir)
    assert "alpha" in msg
    assert "warning" not in err  # refused before any network was loaded


# --------------------------------------------------------------------------- help


def test_help_lists_the_options(capfd):
    rc, out, err = run(capfd, "stylize", "--help")
    assert rc == 0, err
    for option in ("--method", "--strength", "--preserve-color", "--style-scale", "--tile", "--wrap",
                   "--device", "--style-weights", "--overwrite", "--force-color",
                   "-o OUTPUT", "linear-r41", "linear-r31", "ccpl"):
        assert option in out, option
    assert "untrained" not in out  # a test-only switch: no user is offered random weights


# --------------------------------------------------------------------------- real processes


def _env(tmpdir: Path) -> dict:
    env = dict(os.environ, TMPDIR=str(tmpdir), PYTHONUNBUFFERED="1")
    env.pop("PYTHONWARNINGS", None)
    return env


def test_process_missing_weights_and_truncated_png(style, tmp_path, out_dir):
    """Across a real process boundary: exit 2, one stderr line, no traceback, no C-library noise."""
    full = _png_bytes((photo(64, 64) * 255).astype(np.uint8))
    broken = tmp_path / "half.png"
    broken.write_bytes(full[: len(full) // 2])
    good = save(tmp_path / "fine.png", photo())
    empty = tmp_path / "no-models"
    empty.mkdir()
    for src, env, names in ((good, {"BRUSHWORK_MODELS": str(empty)}, ["model file missing", "produce it"]),
                            (broken, {}, ["half.png"])):
        p = subprocess.run([sys.executable, "-m", "core", "stylize", str(src), style, "-o",
                            str(out_dir / "r.png")], env={**os.environ, **env},
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert p.stdout == ""
        assert_refused(p.returncode, p.stderr, names, out_dir)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_leaves_nothing(style, tmp_path, out_dir, sig):
    """Ctrl-C (or `kill`) while encoding: exit 130, no output, no temp file, no temp directory."""
    src = save(tmp_path / "big.png", photo(1024, 1024))
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    out = out_dir / "big_out.png"
    p = subprocess.Popen([sys.executable, "-m", "core", "stylize", src, style, "-o", str(out),
                          "--allow-untrained", "--tile", "128", "--device", "cpu"],  # many slow tiles
                         cwd=ROOT, env=_env(tmpdir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in p.stderr:  # progress lines, not a terminal: "  0% encode" first
            seen.append(line)
            if "encode" in line:
                break
        assert any("encode" in line for line in seen), "".join(seen)  # the job is under way
        time.sleep(0.5)  # inside the first tiles
        p.send_signal(sig)
        _, rest = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = "".join(seen) + rest
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err.splitlines()[-1]
    assert os.listdir(out_dir) == []
    assert os.listdir(tmpdir) == []


def test_check_reports_torch_and_trained_methods(capfd):
    """`python -m core check`: what the add-on's Check button shows."""
    rc, out, err = run(capfd, "check")
    info = json.loads(out)
    assert rc == 0, err
    assert info["torch"].startswith("2.") and info["cuda"] is False
    from core.nets import weights
    from core.engine.stylizer import default_method
    from core.engine.methods import METHODS
    assert info["methods"] == {m: all(map(weights.is_trained, METHODS[m].models)) for m in METHODS}
    assert info["default_method"] == default_method() and info["methods"][default_method()]


def test_installed_command_says_brushwork(capfd, monkeypatch):
    """Run as the installed `brushwork` script, help and errors name `brushwork`; the
    engine's words for a setting come back as this command's flag."""
    monkeypatch.setattr(sys, "argv", ["/venv/bin/brushwork"])
    rc, out, _ = run(capfd, "--help")
    assert rc == 0 and out.startswith("usage: brushwork ")
    rc, _, err = run(capfd, "stylize", "a.png", "b.png", "-o", "c.png", "--style-scale", "9")
    assert rc == 2 and "(see brushwork --help)" not in err and "--style-scale 9.0: must be between" in err
    monkeypatch.setattr(sys, "argv", ["python -m core"])
    rc, out, _ = run(capfd, "--help")
    assert out.startswith("usage: python -m core ")


def test_pyproject_matches_requirements_and_manifest():
    """`pip install .` installs what requirements.txt lists, at the manifest's version, and
    its `brushwork` script is the CLI."""
    import tomllib
    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    manifest = tomllib.loads((root / "blender_manifest.toml").read_text())
    wanted = [line.split("#")[0].strip() for line in (root / "requirements.txt").read_text().splitlines()]
    assert project["dependencies"] == [w for w in wanted if w]
    assert project["version"] == manifest["version"]
    module, function = project["scripts"]["brushwork"].split(":")
    assert module == "brushwork.app.cli" and callable(getattr(cli, function))


def test_gallery_lists_the_paintings_and_an_id_stands_for_a_style(capfd, content, out_dir):
    """`gallery` prints every bundled painting; its id works wherever a style file does,
    and an unknown one is one line that suggests close ids."""
    from core import gallery
    rc, out, _ = run(capfd, "gallery")
    ids = [p.id for p in gallery.paintings()]
    assert rc == 0 and all(f"{i} " in out for i in ids) and f"{len(ids)} paintings" in out
    result = out_dir / "g.png"
    rc, _, err = stylize(capfd, content, ids[0], result, "--method", "wct-r31")
    assert_ok(rc, err, result)
    rc, _, err = stylize(capfd, content, "monet", out_dir / "h.png")
    assert_refused(rc, err, ["monet: no such file or gallery painting", "monet-cliff-walk"], out_dir,
                   before=("g.png",))


def test_the_method_list_shows_the_trained_methods():
    """--help offers what runs; untrained methods are named only as test plumbing."""
    from core.engine.methods import METHODS
    sub = cli._parser().commands["stylize"].format_help()
    trained = [m for m in METHODS if all(weights.is_trained(k) for k in METHODS[m].models)]
    assert "{" + ",".join(trained) + "}" in sub.replace("\n", "").replace(" ", "")
