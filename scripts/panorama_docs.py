"""Panorama pictures and numbers for the docs: the meridian seam and the poles, measured.

For each of Blender's CC0 equirect HDRIs named (shipped in the `bpy` wheel) it runs
`python -m core panorama` three ways — as a flat picture (`stylize`, no wrap), as a
panorama with flat poles (`--no-poles`) and as a full panorama — and writes:
  docs/panorama-<name>.jpg   the stylized photo-sphere JPEG (GPano XMP),
  docs/panorama-meridian.png a crop across the ±180° meridian: flat picture | panorama,
  docs/panorama-poles.png    straight-up and straight-down views: source | flat poles | cap views,
  docs/panorama.md           seam ratio and pole streaks per variant.

    python scripts/panorama_docs.py [--hdri courtyard forest] [--style tests/data/painting.jpg]
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.media import colour  # noqa: E402
from core.app.cli import main as cli  # noqa: E402
from core.media.image_io import read_image  # noqa: E402
from core.scene.panorama import pole_streaks, seam_ratio  # noqa: E402
from core.scene.poles import cap_view  # noqa: E402

CROP = 160  # columns each side of the meridian in the crop


def hdri(name: str) -> Path:
    root = Path(importlib.util.find_spec("bpy").submodule_search_locations[0])
    found = sorted(root.glob(f"*/datafiles/studiolights/world/{name}.exr"))
    if not found:
        sys.exit(f"panorama_docs: no HDRI named {name} in the bpy wheel")
    return found[-1]


def run(args: list[str]) -> float:
    t0 = time.perf_counter()
    if cli([*args, "--quiet", "--overwrite"]) != 0:
        sys.exit(f"panorama_docs: `python -m core {' '.join(args)}` failed")
    return time.perf_counter() - t0


def save(rgb: np.ndarray, path: Path) -> None:
    Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hdri", nargs="+", default=["courtyard", "forest"])
    p.add_argument("--style", default=str(ROOT / "tests" / "data" / "painting.jpg"))
    p.add_argument("--method", default="wct-r31")
    p.add_argument("--out", default=str(ROOT / "docs"))
    a = p.parse_args()
    out = Path(a.out)
    rows = ["| HDRI | variant | seconds | seam ratio (≤ 1.5) | zenith streaks | nadir streaks |",
            "|---|---|---:|---:|---:|---:|"]
    meridian, poles = [], []
    with tempfile.TemporaryDirectory(prefix="brushwork-pano-") as tmp:
        for name in a.hdri:
            src = hdri(name)
            source = colour.tonemap(read_image(str(src)).color)[0]
            results = {"source": (source, None)}
            engine = [a.style, "--method", a.method]
            flat_png, flat_poles, full = (Path(tmp) / f"{name}_{v}.png" for v in ("flat", "flatpoles", "full"))
            results["flat picture"] = (flat_png, run(["stylize", str(src), *engine, "-o", str(flat_png),
                                                      "--hdr", "tonemap", "--force-color"]))
            results["panorama, flat poles"] = (flat_poles, run(["panorama", str(src), *engine, "-o",
                                                                 str(flat_poles), "--no-poles"]))
            results["panorama"] = (full, run(["panorama", str(src), *engine, "-o", str(full)]))
            run(["panorama", str(src), *engine, "-o", str(out / f"panorama-{name}.jpg")])
            pictures = {}
            for variant, (img, seconds) in results.items():
                rgb = img if isinstance(img, np.ndarray) else read_image(str(img)).color
                pictures[variant] = rgb
                rows.append(f"| {name} | {variant} | {'' if seconds is None else f'{seconds:.1f}'} | "
                            f"{seam_ratio(rgb):.2f} | {pole_streaks(rgb, 1):.2f} | {pole_streaks(rgb, -1):.2f} |")
            across = lambda rgb: np.concatenate([rgb[:, -CROP:], rgb[:, :CROP]], axis=1)  # noqa: E731
            meridian.append(np.concatenate([across(pictures["flat picture"]), np.ones((source.shape[0], 8, 3)),
                                            across(pictures["panorama"])], axis=1))
            for pole in (1, -1):
                views = [cap_view(pictures[v], pole, 320, 90.0)
                         for v in ("source", "panorama, flat poles", "panorama")]
                poles.append(np.concatenate(views, axis=1))
    save(np.concatenate(meridian, axis=0), out / "panorama-meridian.png")
    save(np.concatenate(poles, axis=0), out / "panorama-poles.png")
    (out / "panorama.md").write_text(
        "# Panoramas: the meridian and the poles, measured\n\n"
        f"`python scripts/panorama_docs.py --hdri {' '.join(a.hdri)}` (style `{Path(a.style).name}`, "
        f"`{a.method}`; Blender's CC0 HDRIs at 1024×512, tone-mapped with `--hdr tonemap`).\n\n"
        "Seam ratio: the mean jump across the ±180° column over the mean jump between neighbouring\n"
        "columns (about 1: no seam). Streaks: gradient energy across over along the radius within 35° of\n"
        "the pole, in a straight-up/down view (about 1: no preferred direction; above: radial rays).\n\n"
        + "\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
