"""`wrap="auto"`: seamless textures are recognised, photos and crops are not."""
import numpy as np
import pytest

from core.engine.tileable import detect_wrap


def periodic(h=96, w=128, seed=0):
    """A texture with whole numbers of waves across both axes, plus noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.2 * np.sin(2 * np.pi * 3 * x / w)[..., None] * np.cos(2 * np.pi * 2 * y / h)[..., None]
    return np.clip(base + 0.05 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


def test_periodic_texture_wraps_both_ways_even_rolled():
    img = periodic()
    assert detect_wrap(img) == "both"
    assert detect_wrap(np.roll(img, (40, 70), (0, 1))) == "both"


def test_a_crop_or_a_gradient_does_not_wrap():
    img = periodic()
    assert detect_wrap(img[10:70, 5:75]) == "none"  # 1.6 of 3 waves across, 1.1 of 2 down
    ramp = np.linspace(0, 1, 128, dtype=np.float32)[None, :, None].repeat(64, 0).repeat(3, 2)
    assert detect_wrap(ramp) == "none"  # left and right edges are black and white


def test_only_left_right_continuing_is_x():
    img = periodic()
    img = img * np.linspace(0.2, 1, img.shape[0], dtype=np.float32)[:, None, None]  # dark top, light bottom
    assert detect_wrap(img) == "x"


def test_joints_on_the_edge_still_count_as_tileable():
    """Flat tiles with grout lines, one of them on the edge (a jump larger than the median)."""
    img = np.full((64, 128, 3), 0.8, np.float32)
    img[:, ::32] = 0.2
    img[::32, :] = 0.2
    assert detect_wrap(img) == "both"


@pytest.mark.parametrize("name", ["photo.jpg", "painting.jpg"])
def test_photographs_do_not_wrap(name):
    from core.media.image_io import read_image
    from support import DATA
    assert detect_wrap(read_image(str(DATA / name)).color) == "none"
