"""360° panoramas: the meridian joins, the JPEG says it is a photo sphere, bad input is refused."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.media import colour
from core.app.cli import main as cli_main
from core.media.image_io import Picture, read_image, write_image
from core.scene import poles
from core.scene.panorama import pole_streaks, seam_ratio
from support import DATA


@pytest.fixture(scope="module")
def equirect(tmp_path_factory):
    """Blender's CC0 courtyard HDRI (shipped in the bpy wheel), tone-mapped by clipping to
    display range and shrunk to 256×128: a real equirect whose ±180° columns meet."""
    root = Path(importlib.util.find_spec("bpy").submodule_search_locations[0])
    hdri = sorted(root.glob("*/datafiles/studiolights/world/courtyard.exr"))[-1]
    pic = read_image(str(hdri))
    rgb = colour.to_working(pic.color, True)
    small = np.asarray(Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)).resize((256, 128), Image.LANCZOS))
    path = tmp_path_factory.mktemp("pano") / "courtyard.png"
    write_image(str(path), Picture(small.astype(np.float32) / 255, np.dtype(np.uint8), False, str(path)))
    assert seam_ratio(small / 255.0) < 1.5  # the source itself joins
    return path


def test_the_meridian_joins_and_the_jpeg_is_a_photo_sphere(capfd, equirect, tmp_path):
    out = tmp_path / "pano.jpg"
    rc = cli_main(["panorama", str(equirect), str(DATA / "painting.jpg"), "-o", str(out), "--method", "wct-r31",
                   "--quiet"])
    assert rc == 0, capfd.readouterr().err
    joined = seam_ratio(read_image(str(out)).color)
    assert joined <= 1.5
    plain = tmp_path / "plain.png"   # the same image stylized as a flat picture: the edges do not meet
    rc = cli_main(["stylize", str(equirect), str(DATA / "painting.jpg"), "-o", str(plain), "--method", "wct-r31",
                   "--quiet"])
    assert rc == 0 and seam_ratio(read_image(str(plain)).color) > 1.5 * joined
    with Image.open(out) as im:
        xmp = im.info["xmp"].decode()
    for field in ('GPano:ProjectionType="equirectangular"', 'GPano:UsePanoramaViewer="True"',
                  'GPano:FullPanoWidthPixels="256"', 'GPano:FullPanoHeightPixels="128"',
                  'GPano:CroppedAreaLeftPixels="0"'):
        assert field in xmp


@pytest.mark.parametrize("case", ["not 2:1", "not an image"])
def test_bad_panorama_input_is_one_clear_line(capfd, tmp_path, case):
    if case == "not 2:1":
        src, expect = DATA / "photo.jpg", "not an equirectangular panorama (2:1"
    else:
        src = tmp_path / "notes.png"
        src.write_text("not pixels")
        expect = "notes.png"
    rc = cli_main(["panorama", str(src), str(DATA / "painting.jpg"), "-o", str(tmp_path / "o.jpg"), "--quiet"])
    err = capfd.readouterr().err
    assert rc == 2 and expect in err and "Traceback" not in err
    assert not (tmp_path / "o.jpg").exists()


def test_a_still_and_a_folder_of_frames_become_360_videos(capfd, equirect, tmp_path):
    import imageio_ffmpeg
    from core.media.spherical import read_spherical
    still = tmp_path / "still.mp4"
    rc = cli_main(["panorama", str(equirect), str(DATA / "painting.jpg"), "-o", str(still), "--method", "wct-r31",
                   "--quiet"])
    assert rc == 0, capfd.readouterr().err
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    pic = read_image(str(equirect))
    for t in range(3):  # the camera turning: the panorama rolls around the meridian
        rolled = np.roll(pic.color, 8 * t, axis=1)
        write_image(str(frames_dir / f"f_{t + 1}.png"), Picture(rolled, np.dtype(np.uint8), False, ""))
    seq = tmp_path / "turn.mp4"
    rc = cli_main(["panorama", str(frames_dir), str(DATA / "painting.jpg"), "-o", str(seq), "--method", "wct-r31",
                   "--quiet"])
    assert rc == 0, capfd.readouterr().err
    for path, frames in ((still, 5), (seq, 3)):
        meta = read_spherical(str(path))
        assert meta["v1"]["projection"] == meta["v2"]["projection"] == "equirectangular"
        assert imageio_ffmpeg.count_frames_and_secs(str(path))[0] == frames
    assert len(list((tmp_path / "turn_frames").glob("*.png"))) == 3


def _rings_and_rays(h: int, w: int, along: str) -> np.ndarray:
    """An equirect whose stripes run along meridians (rays at a pole) or parallels (rings)."""
    y, x = np.mgrid[0:h, 0:w]
    stripes = 0.5 + 0.4 * np.sin(2 * np.pi * (x / w * 64 if along == "meridians" else y / h * 48))
    return np.repeat(stripes[..., None], 3, axis=2).astype(np.float32)


def test_pole_streaks_tells_rays_from_rings_and_from_no_direction():
    rays, rings = _rings_and_rays(256, 512, "meridians"), _rings_and_rays(256, 512, "parallels")
    # Waves running in random directions through space: a pattern with no direction on the sphere.
    rng = np.random.default_rng(0)
    lat = np.pi / 2 - (np.arange(256) + 0.5) / 256 * np.pi
    lon = (np.arange(512) + 0.5) / 512 * 2 * np.pi - np.pi
    lat, lon = np.meshgrid(lat, lon, indexing="ij")
    d = np.stack([np.cos(lat) * np.sin(lon), np.sin(lat), np.cos(lat) * np.cos(lon)], -1)
    k = rng.normal(size=(300, 3))
    k *= 40 / np.linalg.norm(k, axis=1, keepdims=True)
    waves = np.sin(d @ k.T + rng.uniform(0, 2 * np.pi, 300)).mean(-1)
    waves = np.repeat(((waves - waves.min()) / np.ptp(waves))[..., None], 3, axis=2).astype(np.float32)
    for pole in (1, -1):
        assert pole_streaks(rays, pole) > 20 and pole_streaks(rings, pole) < 0.05
        assert 0.7 < pole_streaks(waves, pole) < 1.4


def test_a_cap_view_projects_back_onto_the_equirect():
    """Out through the straight-up/down camera and back: the same picture, only resampled."""
    y, x = np.mgrid[0:128, 0:256] / 128.0
    smooth = np.stack([np.sin(3 * x) * 0.4 + 0.5, np.cos(5 * y) * 0.4 + 0.5, x / 2], -1).astype(np.float32)
    weight = poles.ramp(128)
    assert weight[0] == weight[-1] == 1 and weight[64] == 0 and np.all(np.diff(weight[:64]) <= 0)
    for pole, rows in ((1, np.arange(0, 20)), (-1, np.arange(108, 128))):
        back = poles.cap_back(poles.cap_view(smooth, pole, size=256), pole, rows, 256, 128)
        assert np.abs(back - smooth[rows]).mean() < 0.01


def test_the_poles_are_painted_without_radial_streaks(capfd, equirect, tmp_path):
    outs = {}
    for name, extra in (("flat", ["--no-poles"]), ("poles", [])):
        outs[name] = tmp_path / f"{name}.png"
        rc = cli_main(["panorama", str(equirect), str(DATA / "painting.jpg"), "-o", str(outs[name]),
                       "--method", "wct-r31", "--quiet", *extra])
        assert rc == 0, capfd.readouterr().err
    flat, clean = (read_image(str(outs[n])).color for n in ("flat", "poles"))
    assert pole_streaks(clean, 1) < 0.8 * pole_streaks(flat, 1)
    assert seam_ratio(clean) <= 1.5
    middle = slice(48, 80)  # the equator band is the flat painting, untouched by the cap views
    assert np.abs(clean[middle] - flat[middle]).max() < 2 / 255


def test_an_hdri_is_tone_mapped_on_purpose_and_stays_hdr_as_exr(capfd, tmp_path):
    root = Path(importlib.util.find_spec("bpy").submodule_search_locations[0])
    pic = read_image(str(sorted(root.glob("*/datafiles/studiolights/world/sunset.exr"))[-1]))
    hdri = tmp_path / "sunset.exr"
    sky = pic.color[::4, ::4][:128, :256]
    write_image(str(hdri), Picture(np.ascontiguousarray(sky), np.dtype(np.float32), True, str(hdri)))
    assert sky.max() > 4   # a real HDRI: the sun is far above display white
    out_exr, out_jpg = tmp_path / "sunset_out.exr", tmp_path / "sunset_out.jpg"
    for out in (out_exr, out_jpg):
        rc = cli_main(["panorama", str(hdri), str(DATA / "painting.jpg"), "-o", str(out), "--method", "wct-r31",
                       "--quiet"])
        assert rc == 0, capfd.readouterr().err
    exr = read_image(str(out_exr))
    assert exr.linear and exr.pixels.max() > 2   # back in scene-linear light, above display white
    shown = read_image(str(out_jpg)).color
    assert (shown > 250 / 255).all(axis=2).mean() < 0.02   # highlights rolled off, not clipped flat white
