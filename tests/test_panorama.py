"""360° panoramas: the meridian joins, the JPEG says it is a photo sphere, bad input is refused."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import colour
from core.cli import main as cli_main
from core.image_io import Picture, read_image, write_image
from core.panorama import seam_ratio
from tests.conftest import DATA


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
    from core.spherical import read_spherical
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
