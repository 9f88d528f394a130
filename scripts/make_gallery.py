"""Regenerate the bundled gallery (core/gallery/paintings/*.jpg and manifest.json).

The gallery is 24 public-domain paintings from the Art Institute of Chicago's open-access
collection (CC0), chosen from the project's shared data (`style/aic_*.jpg`, listed with
their upstream repo, path, commit and the museum's caption in `style_sources.tsv`). This
script is the whole recipe: the chosen list below, the caption parsed into title, artist,
year and medium, and each picture re-encoded small. Run it after changing `CHOSEN`:

    python scripts/make_gallery.py [--data ../shared/data]

It refuses anything that is not an `aic_` file, and any of VALIDATION.md's styles (the
paintings models are judged on never ship as presets).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from pathlib import Path

from PIL import Image, ImageCms

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "core" / "gallery"
LONG_SIDE = 768
QUALITY = 88
LICENCE = "CC0 1.0 (Art Institute of Chicago open access)"

# (id, shared-data file, look): in date order, which is the order the gallery lists them.
CHOSEN = [
    ("martorell-saint-george", "aic_15468.jpg", "gothic tempera: crisp outlines, gold, white and vermilion"),
    ("el-greco-saint-martin", "aic_67362.jpg", "mannerist: elongated forms, cold blues, flickering whites"),
    ("brueghel-flowers", "aic_64029.jpg", "tight jewel-like detail, saturated flowers on a dark ground"),
    ("rubens-saint-francis", "aic_100342.jpg", "baroque chiaroscuro: dark ground, warm flesh, grey-blue habit"),
    ("heda-breakfast", "aic_257286.jpg", "tonal still life: silver, pewter and ochre in smooth glazes"),
    ("corot-souvenir-of-italy", "aic_81510.jpg", "silvery feathered foliage, soft greens and browns"),
    ("delacroix-lion-hunt", "aic_81505.jpg", "romantic turmoil: hot ochres and reds in swirling strokes"),
    ("manet-sea-view", "aic_81535.jpg", "flat teal sea and black sails in broad strokes"),
    ("cezanne-auvers", "aic_14556.jpg", "constructive patches of green, ochre and slate blue"),
    ("renoir-rowers-lunch", "aic_81555.jpg", "feathery dappled light in blue, green and cream"),
    ("morisot-toilette", "aic_11723.jpg", "airy silver-white, fast loose strokes"),
    ("monet-saint-lazare", "aic_16571.jpg", "smoky blue-grey steam, loose strokes"),
    ("manet-black-fichu", "aic_14594.jpg", "bold alla prima portrait: green ground, black and white"),
    ("degas-millinery", "aic_14572.jpg", "warm orange and green, soft pastel-like strokes"),
    ("schreyer-snow-rider", "aic_895.jpg", "stormy snow: white and grey impasto, dark accents"),
    ("monet-cliff-walk", "aic_14620.jpg", "bright broken strokes of sea blue and grass green"),
    ("seurat-grande-jatte", "aic_61616.jpg", "divisionist dabs of green, violet and orange"),
    ("lautrec-ballet-dancers", "aic_9148.jpg", "pale sketchy hatching in green and lilac"),
    ("gauguin-arlesiennes", "aic_19339.jpg", "flat cloisonné colour: green, orange, deep blue"),
    ("serusier-beach", "aic_212300.jpg", "flat Pont-Aven yellows and greens, simple shapes"),
    ("pissarro-place-du-havre", "aic_81551.jpg", "busy flickering city strokes, cool grey and ochre"),
    ("vallotton-red-room", "aic_94241.jpg", "saturated flat red, crisp shapes"),
    ("vuillard-window", "aic_109926.jpg", "decorative tapestry of olive, mustard and green"),
    ("guillaumin-mill", "aic_16502.jpg", "vivid autumn: orange, violet and blue, loosely laid"),
]

# The museum caption: 'Artist (nationality, dates); "Title", year; medium; Art Institute …'
CAPTION = re.compile(r'^(?P<artist>.*?); "(?P<title>.*)", (?P<year>[^;]+); (?P<medium>[^;]+); Art Institute')
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def parse_caption(note: str) -> dict:
    m = CAPTION.match(note)
    if not m:
        raise SystemExit(f"cannot parse caption: {note!r}")
    artist = re.sub(r"\s*\(.*\)$", "", m["artist"].strip())  # drop "(French, 1840–1926)"
    year = re.sub(r"(\d)-(\d)", "\\1–\\2", m["year"].strip())  # 1873-75 → 1873–75, as the rest
    return {"title": m["title"].strip(), "artist": artist, "year": year,
            "medium": m["medium"].strip()}


def validation_styles(data: Path) -> set[str]:
    text = (data / "VALIDATION.md").read_text(encoding="utf-8")
    section = text.split("## style", 1)[1]
    return {line.strip() for line in section.splitlines() if line.strip().endswith((".jpg", ".png"))}


def as_srgb(im: Image.Image) -> Image.Image:
    """RGB in sRGB: a file with an embedded ICC profile is converted, one without is sRGB."""
    icc = im.info.get("icc_profile")
    im = im.convert("RGB")
    if icc:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        im = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
    return im


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                    help="the shared data folder (style/, style_sources.tsv, VALIDATION.md)")
    args = ap.parse_args(argv)
    with open(args.data / "style_sources.tsv", encoding="utf-8", newline="") as f:
        rows = {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}
    held_out = validation_styles(args.data)

    ids = [c[0] for c in CHOSEN]
    files = [c[1] for c in CHOSEN]
    assert len(set(ids)) == len(ids) and len(set(files)) == len(files), "duplicate id or file"
    paintings = OUT / "paintings"
    paintings.mkdir(parents=True, exist_ok=True)
    manifest = []
    for pid, name, look in CHOSEN:
        if not SLUG.match(pid):
            raise SystemExit(f"{pid}: ids are lowercase words joined by hyphens")
        if not name.startswith("aic_") or name in held_out:
            raise SystemExit(f"{name}: only CC0 aic_ files outside the validation split may ship")
        row = rows[name]
        with Image.open(args.data / "style" / name) as src:
            im = as_srgb(src)
        if max(im.size) > LONG_SIDE:
            s = LONG_SIDE / max(im.size)
            im = im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.LANCZOS)
        im.save(paintings / f"{pid}.jpg", quality=QUALITY, optimize=True)  # no EXIF, no ICC
        manifest.append({"id": pid, **parse_caption(row["note"]), "licence": LICENCE,
                         "source": {"file": name, "repo": row["repo"], "path": row["path"],
                                    "commit": row["commit"]},
                         "look": look})
    for stale in paintings.glob("*.jpg"):
        if stale.stem not in ids:
            stale.unlink()
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    print(f"{len(manifest)} paintings, {total / 1e6:.2f} MB in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
