"""The bundled gallery: 24 public-domain paintings an artist can paint after at once.

Someone who has just installed Brushwork rarely has a painting file at hand, so the
product ships a small, wide-ranging set (CC0 paintings from the Art Institute of
Chicago's open-access collection, ≤ 768 px JPEGs) with their title, artist, year, medium
and licence in `manifest.json`. `scripts/make_gallery.py` rebuilds both from the
project's shared data, so every picture's provenance can be traced and reproduced.

A gallery id ("monet-cliff-walk") may stand wherever a style file may: `resolve_style`
turns one into its JPEG's path, and leaves a real path untouched.

Only json and pathlib are imported: the add-on reads this module inside Blender's
Python (to fill its preview grid) and the CLI lists it without the engine's numpy/torch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import BrushworkError

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"
PAINTINGS = HERE / "paintings"


@dataclass(frozen=True)
class Painting:
    """One shipped painting: its manifest entry and the path of its JPEG."""

    id: str
    title: str
    artist: str
    year: str      # as the museum writes it: "1882", "c. 1615", "1875–80"
    medium: str
    licence: str
    look: str      # a few words on how it paints, for the artist choosing
    path: Path

    @property
    def description(self) -> str:
        """The add-on's tooltip: who painted it, when, and how it paints."""
        return f"{self.artist}, {self.year} — {self.look}"

    @property
    def credit(self) -> str:
        """One line for a tooltip or a caption: artist, title, year, licence."""
        return f"{self.artist}, {self.title} ({self.year}). {self.licence}"


_cache: list[Painting] | None = None


def paintings() -> list[Painting]:
    """Every shipped painting, in the manifest's order (by date, oldest first).

    Read once per process: the manifest is package data and does not change while
    Blender or a worker runs."""
    global _cache
    if _cache is None:
        entries = json.loads(MANIFEST.read_text(encoding="utf-8"))
        _cache = [Painting(id=e["id"], title=e["title"], artist=e["artist"], year=e["year"],
                           medium=e["medium"], licence=e["licence"], look=e["look"],
                           path=PAINTINGS / f"{e['id']}.jpg") for e in entries]
    return list(_cache)


DEFAULT = "monet-cliff-walk"   # a new scene's style in the add-on: bright, loose strokes that read on any texture


def available() -> list[Painting]:
    """The paintings whose JPEG is there; none when the manifest is missing or unreadable
    (the add-on's panel then offers only a file instead of failing to draw)."""
    try:
        return [p for p in paintings() if p.path.is_file()]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def default_id() -> str:
    """DEFAULT, or the first painting should a later gallery drop it."""
    shipped = [p.id for p in available()]
    return DEFAULT if DEFAULT in shipped or not shipped else shipped[0]


def ids() -> list[str]:
    """The gallery's ids, in the manifest's order."""
    return [p.id for p in paintings()]


def find(id: str) -> Painting:
    """The painting with this id, or a BrushworkError naming the nearest ids.

    A mistyped id ("monet-clif-walk") should cost the artist one look at the message,
    not a trip to the documentation, so the message suggests what they probably meant."""
    for p in paintings():
        if p.id == id:
            return p
    raise BrushworkError(f"{id}: no gallery painting of that name{_suggest(id)}", "styles")


def resolve_style(text: str) -> str:
    """A style as the user gave it → a path to read: an existing file as given,
    else a gallery id's JPEG.

    The file wins, so a painting saved as e.g. `./monet-cliff-walk` in the working folder
    is never shadowed by the gallery. Neither: a BrushworkError that names the text."""
    text = str(text)
    if not text.strip():
        raise BrushworkError("style: the path is empty; name an image file or a gallery painting "
                             "(see `brushwork gallery`)", "styles")
    if Path(text).expanduser().is_file():
        return text
    key = text.strip().lower()
    for p in paintings():
        if p.id == key:
            return str(p.path)
    raise BrushworkError(f"{text}: no such file or gallery painting (see `brushwork gallery`)"
                         f"{_suggest(key)}", "styles")


def _suggest(text: str) -> str:
    """"; did you mean a, b?" for ids close to `text` (by spelling, or by artist's
    name: "monet" finds both Monets), or "" when none is."""
    import difflib  # stdlib; only on the error path

    names = ids()
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.6)
    if not close and text:
        close = [n for n in names if n.split("-")[0] == text.split("-")[0]][:3]
    return f"; did you mean {', '.join(close)}?" if close else ""
