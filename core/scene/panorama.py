"""Equirectangular 360° panoramas: the 2:1 check, the meridian seam, photo-sphere metadata.

An equirect image is stylized with the x axis wrapped (circular padding, halos and tiles
read around the ±180° meridian), so the two edges meet without a seam in a 360° viewer.
JPEG results carry Google's Photo Sphere XMP (GPano), which YouTube, Google Photos and
photo-sphere viewers read to show the image as a sphere, not a flat strip.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import BrushworkError

GPANO = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:GPano="http://ns.google.com/photos/1.0/panorama/"
   GPano:ProjectionType="equirectangular"
   GPano:UsePanoramaViewer="True"
   GPano:FullPanoWidthPixels="{w}"
   GPano:FullPanoHeightPixels="{h}"
   GPano:CroppedAreaImageWidthPixels="{w}"
   GPano:CroppedAreaImageHeightPixels="{h}"
   GPano:CroppedAreaLeftPixels="0"
   GPano:CroppedAreaTopPixels="0"
   GPano:StitchingSoftware="Brushwork"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def gpano_xmp(width: int, height: int) -> bytes:
    """The XMP packet of a full (uncropped) equirectangular panorama of this size."""
    return GPANO.format(w=width, h=height).encode("utf-8")


def check_equirect(height: int, width: int, label: str) -> None:
    """A full equirect panorama is twice as wide as high (±1 px for odd sizes)."""
    if abs(width - 2 * height) > 1:
        raise BrushworkError(f"{label}: {width}×{height} is not an equirectangular panorama "
                             f"(2:1, e.g. {2 * height}×{height})")


def seam_ratio(rgb: np.ndarray) -> float:
    """Mean jump across the ±180° meridian over the mean jump between neighbouring columns:
    about 1 where the meridian joins, several times that where it shows as a seam."""
    img = rgb[..., :3].astype(np.float32)
    inside = float(np.abs(np.diff(img, axis=1)).mean())
    return float(np.abs(img[:, 0] - img[:, -1]).mean()) / max(inside, 1e-8)


def pole_streaks(rgb: np.ndarray, pole: int = 1, size: int = 256) -> float:
    """How much the strokes around a pole are radial streaks, in a straight-up (or down) view.

    The ratio of gradient energy across the radius (tangential: what a radial streak
    has) to gradient energy along it, in a ring around the pole of a 90° view: about 1
    for strokes with no preferred direction, well above 1 where they pinch into rays."""
    from ..media.colour import luminance
    from ..scene.poles import cap_view

    view = luminance(cap_view(rgb[..., :3].astype(np.float32), pole, size, fov=90.0))
    gy, gx = np.gradient(view.astype(np.float64))
    c = (size - 1) / 2
    y, x = np.mgrid[0:size, 0:size] - c
    r = np.hypot(x, y)
    ring = (r > 0.05 * c) & (r < 0.7 * c)   # within 35° of the pole, where the stretch is 1.7× to 70×
    radial = (gx * x + gy * y)[ring] / r[ring]
    tangential = (gy * x - gx * y)[ring] / r[ring]
    return float((tangential ** 2).mean() / max((radial ** 2).mean(), 1e-12))


def paint(stylizer, rgb, sides, settings, progress=None, cancel=None, content=None) -> np.ndarray:
    """The equirect painted flat with the meridian wrapped, then its polar caps painted
    in perspective views with the same transformation (core/scene/poles.py).
    `stylizer`, `sides`, `settings`: the engine's (core/engine/stylizer.py)."""
    from ..engine.stylizer import part
    from ..scene.poles import fix_poles

    settings = replace(settings, wrap="x")
    content = content or stylizer.content(rgb, settings)
    flat = stylizer.run(rgb, sides, settings, part(progress, 0.0, 0.6), cancel, content=content)
    view_settings = replace(settings, wrap="none")
    paint_view = lambda view, pole: stylizer.run(  # noqa: E731
        view, sides, view_settings, part(progress, 0.6, 0.8) if pole > 0 else part(progress, 0.8, 1.0), cancel,
        content=content)
    return fix_poles(rgb, flat, paint_view)
