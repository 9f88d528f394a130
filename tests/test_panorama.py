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
