"""The README's contact sheet: every gallery painting beside one texture painted after it.

A reader sees the range of the bundled gallery (core/gallery) before installing: for each
painting, the painting and the same tileable wood texture (tests/data/wood_basecolor.png)
stylized after it, wrap "both" since the texture tiles. ccpl-r31 by default: on this
texture it keeps the planks and the grain, where wct-r31 turns them into a mottled wash
of the painting's colours.
The engine is used as a library, as a job would: read → working sRGB → Stylizer.

    python scripts/gallery_sheet.py [-o docs/gallery.jpg] [--size 256] [--method ccpl-r31]

About a second per painting on a CPU at 256 px.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import gallery  # noqa: E402
from core.engine.resample import resize  # noqa: E402
from core.engine.stylizer import Settings, Stylizer  # noqa: E402
from core.media import colour  # noqa: E402
from core.media.image_io import read_image  # noqa: E402

TEXTURE = ROOT / "tests" / "data" / "wood_basecolor.png"
WIDTH = 1800           # the sheet's width in pixels
PER_ROW = 4            # painting + result pairs per row
GAP = 12               # between the two pictures of a pair
PAD = 24               # around pairs
BG, INK, DIM = (30, 30, 32), (235, 235, 235), (150, 150, 155)


def font(size: int, bold: bool = False):
    """DejaVu Sans where the system has it, else Pillow's own scalable default."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/Library/Fonts"):
        try:
            return ImageFont.truetype(str(Path(folder) / name), size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


def to_pil(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8))


def fit(im: Image.Image, box: int) -> Image.Image:
    """Scaled to fit a box×box square, aspect kept."""
    s = box / max(im.size)
    return im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.Resampling.LANCZOS)


def ellipsize(draw: ImageDraw.ImageDraw, text: str, f, width: int) -> str:
    if draw.textlength(text, font=f) <= width:
        return text
    while text and draw.textlength(text + "…", font=f) > width:
        text = text[:-1]
    return text.rstrip(" ,;:") + "…"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "gallery.jpg")
    ap.add_argument("--size", type=int, default=256, help="the texture's side while stylizing")
    ap.add_argument("--method", default="ccpl-r31")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)

    pic = read_image(str(TEXTURE))
    wood = colour.to_working(pic.color, pic.linear)
    if max(wood.shape[:2]) != args.size:
        wood = resize(wood, (args.size, args.size), "both")
    stylizer = Stylizer(args.method, device=args.device)
    settings = Settings(wrap="both")

    cell = (WIDTH - PAD * (PER_ROW + 1)) // PER_ROW     # one pair's width
    box = (cell - GAP) // 2                             # one picture's square
    title_f, small_f, head_f = font(17, bold=True), font(14), font(24, bold=True)
    line = 22
    caption_h = 2 * line + 6
    paintings = gallery.paintings()
    rows = -(-len(paintings) // PER_ROW)
    header_h = box // 2 + 2 * PAD
    height = header_h + rows * (box + caption_h + PAD) + PAD
    sheet = Image.new("RGB", (WIDTH, height), BG)
    draw = ImageDraw.Draw(sheet)

    # the header: the texture as it is, and what the sheet shows
    before = fit(to_pil(wood), box // 2)
    sheet.paste(before, (PAD, PAD))
    x = PAD + before.width + PAD
    draw.text((x, PAD + 4), "Brushwork's bundled gallery: 24 public-domain paintings (CC0, "
              "Art Institute of Chicago)", font=head_f, fill=INK)
    draw.text((x, PAD + 44), f"Each painting (left) and this tileable wood texture (far left, "
              f"{wood.shape[1]} px) painted after it (right): method {args.method}, strength 1, "
              "wrap both.", font=small_f, fill=DIM)
    draw.text((x, PAD + 68), "Caption: the gallery id to type (CLI) or pick (panel), then artist "
              "and year.", font=small_f, fill=DIM)

    start = time.perf_counter()
    for i, p in enumerate(paintings):
        style = read_image(str(p.path))
        side = stylizer.style(colour.to_working(style.color, style.linear), p.id)
        out = stylizer.run(wood, [side], settings)
        r, c = divmod(i, PER_ROW)
        x0 = PAD + c * (cell + PAD)
        y0 = header_h + r * (box + caption_h + PAD)
        left = fit(Image.open(p.path).convert("RGB"), box)
        right = fit(to_pil(out), box)
        # both pictures sit on the bottom edge of their square, so a row's captions line up
        sheet.paste(left, (x0 + (box - left.width) // 2, y0 + box - left.height))
        sheet.paste(right, (x0 + box + GAP, y0 + box - right.height))
        draw.text((x0, y0 + box + 6), ellipsize(draw, p.id, title_f, cell), font=title_f, fill=INK)
        who = ellipsize(draw, f"{p.artist}, {p.year}", small_f, cell)
        draw.text((x0, y0 + box + 6 + line), who, font=small_f, fill=DIM)
        print(f"{i + 1}/{len(paintings)} {p.id}", flush=True)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.output, quality=85, optimize=True)
    print(f"{args.output}: {sheet.width}×{sheet.height}, {args.output.stat().st_size / 1e3:.0f} kB, "
          f"{time.perf_counter() - start:.0f} s stylizing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
