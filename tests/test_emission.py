"""Emission maps painted as light (core/media/colour.py `as_light`, the jobs' `emission`).

Painted as colour, the black of an emission map comes back in the painting's mean colour
and the whole object glows; painted as light, black stays black and what glows keeps its
brightness, in the painting's colours.
"""
import numpy as np

from core.app import cli
from core.jobs import image, image_set
from core.media import colour
from core.media.image_io import read_image
from imaging import save

STYLE = "monet-cliff-walk"


def _emission_map(h=96, w=128) -> np.ndarray:
    """Black, with a glowing cyan panel and an orange dot (8-bit sRGB, as glTF ships them)."""
    rgb = np.zeros((h, w, 3), np.float32)
    rgb[20:50, 16:80] = (0.1, 0.9, 1.0)
    yy, xx = np.mgrid[:h, :w]
    rgb[(yy - 70) ** 2 + (xx - 100) ** 2 < 100] = (1.0, 0.5, 0.1)
    return rgb


def test_as_light_keeps_black_and_brightness():
    content = _emission_map()
    rng = np.random.default_rng(0)
    stylized = rng.uniform(0.2, 0.9, content.shape).astype(np.float32)
    out = colour.as_light(stylized, content)
    black = content.max(axis=2) == 0
    assert np.abs(out[black]).max() == 0
    peak = lambda x: colour.srgb_to_linear(x).max(axis=2)
    np.testing.assert_allclose(peak(out)[~black], peak(content)[~black], atol=1e-4)
    # the hue is the painting's: the cyan panel is no longer cyan everywhere
    assert np.abs(out[~black] - content[~black]).mean() > 0.05
    # a black painted pixel where the map glows stays as bright, in grey
    dark = stylized.copy()
    dark[30, 30] = 0
    grey = colour.as_light(dark, content)[30, 30]
    assert np.ptp(grey) < 1e-6 and abs(colour.srgb_to_linear(grey[:1])[0] - peak(content[30:31, 30:31])[0, 0]) < 1e-4


def test_an_emission_job_leaves_black_black_where_colour_would_glow(tmp_path):
    src = save(tmp_path / "emissive.png", _emission_map())
    black = _emission_map().max(axis=2) == 0
    outs = {}
    for emission in (False, True):
        out = tmp_path / f"out-{emission}.png"
        image.run(image.Job(content=str(src), output=str(out), styles=[STYLE], force_color=True,
                            emission=emission))
        outs[emission] = read_image(str(out)).color
    assert outs[False][black].mean() > 0.1             # as colour: the black glows (the defect)
    assert outs[True][black].max() <= 2 / 255          # as light: black stays black
    glow = ~black
    assert outs[True][glow].mean() > 0.2
    lin = lambda x: colour.srgb_to_linear(x).max(axis=2)
    assert np.abs(lin(outs[True])[glow] - lin(_emission_map())[glow]).mean() < 0.03


def test_sets_and_the_cli_take_emission(tmp_path, capfd):
    src = save(tmp_path / "emissive.png", _emission_map())
    black = _emission_map().max(axis=2) == 0
    (tmp_path / "set").mkdir()
    image_set.run(image_set.ImageSetJob(contents=[str(src)], outputs=[str(tmp_path / "set" / "e.png")],
                                        styles=[STYLE], force_color=True, emission=True, pooled=False))
    assert read_image(str(tmp_path / "set" / "e.png")).color[black].max() <= 2 / 255
    assert cli.main(["stylize", str(src), STYLE, "-o", str(tmp_path / "cli.png"), "--emission", "--force-color"]) == 0
    assert read_image(str(tmp_path / "cli.png")).color[black].max() <= 2 / 255
