"""The bundled gallery (core/gallery): what ships agrees with its manifest, and ids work
wherever a style file does."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import core.gallery as gallery
from core.errors import BrushworkError

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "core" / "gallery"
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# VALIDATION.md's styles (../shared/data): read from there when it is at hand
VALIDATION_FILE = ROOT.parent / "shared" / "data" / "VALIDATION.md"
VALIDATION_STYLES = {"adain_asheville.jpg", "adain_brushstrokes.jpg", "adain_la_muse.jpg",
                     "adain_scene_de_rue.jpg", "debian_Volna.jpg", "ns_escher_sphere.jpg",
                     "ns_shipwreck.jpg", "ns_the_scream.jpg"}


def manifest():
    return json.loads((GALLERY / "manifest.json").read_text(encoding="utf-8"))


def test_manifest_and_files_agree():
    entries = manifest()
    ids = [e["id"] for e in entries]
    assert len(ids) == 24 and len(set(ids)) == len(ids)
    assert all(SLUG.match(i) and len(i) <= 32 for i in ids), ids
    files = {p.stem for p in (GALLERY / "paintings").iterdir()}
    assert files == set(ids)
    for e in entries:
        assert all(isinstance(e[k], str) and e[k] for k in
                   ("title", "artist", "year", "medium", "licence", "look")), e["id"]
        with Image.open(GALLERY / "paintings" / f"{e['id']}.jpg") as im:
            assert im.format == "JPEG" and im.mode == "RGB", e["id"]
            assert max(im.size) <= 768 and min(im.size) >= 256, (e["id"], im.size)
            assert "icc_profile" not in im.info and "exif" not in im.info, e["id"]
    total = sum(p.stat().st_size for p in (GALLERY / "paintings").iterdir())
    assert total < 2.5e6, f"gallery is {total / 1e6:.2f} MB"


def test_only_cc0_paintings_outside_the_validation_split():
    held_out = set(VALIDATION_STYLES)
    if VALIDATION_FILE.is_file():
        text = VALIDATION_FILE.read_text(encoding="utf-8").split("## style", 1)[1]
        held_out |= {w.strip() for w in text.splitlines() if w.strip().endswith((".jpg", ".png"))}
    sources = [e["source"]["file"] for e in manifest()]
    assert len(set(sources)) == len(sources)
    for e in manifest():
        assert e["licence"].startswith("CC0"), e["id"]
        src = e["source"]
        assert src["file"].startswith("aic_") and src["file"] not in held_out, e["id"]
        assert src["repo"] and src["path"] and re.fullmatch(r"[0-9a-f]{40}", src["commit"]), e["id"]


def test_paintings_and_find():
    ps = gallery.paintings()
    assert [p.id for p in ps] == [e["id"] for e in manifest()] == gallery.ids()
    p = gallery.find("monet-cliff-walk")
    assert (p.artist, p.title, p.year) == ("Claude Monet", "Cliff Walk at Pourville", "1882")
    assert p.path.is_file() and p.path.parent == GALLERY / "paintings"
    assert "Claude Monet" in p.credit and "CC0" in p.credit


def test_find_unknown_suggests_close_ids():
    with pytest.raises(BrushworkError, match=r"monet-clif-walk: no gallery painting.*monet-cliff-walk"):
        gallery.find("monet-clif-walk")
    with pytest.raises(BrushworkError, match=r"did you mean .*monet-"):
        gallery.find("monet")          # an artist's name finds that artist's paintings
    with pytest.raises(BrushworkError) as e:
        gallery.find("zzzz")
    assert "did you mean" not in str(e.value)


def test_resolve_style(tmp_path, monkeypatch):
    real = tmp_path / "my painting.jpg"
    real.write_bytes(b"not read here")
    assert gallery.resolve_style(str(real)) == str(real)          # a file: unchanged
    assert gallery.resolve_style("vallotton-red-room") == str(gallery.find("vallotton-red-room").path)
    assert gallery.resolve_style("Vallotton-Red-Room") == str(gallery.find("vallotton-red-room").path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "heda-breakfast").write_bytes(b"x")               # a file of that name wins
    assert gallery.resolve_style("heda-breakfast") == "heda-breakfast"
    with pytest.raises(BrushworkError, match=r"^nowhere\.jpg: no such file or gallery painting "
                                             r"\(see `brushwork gallery`\)$"):
        gallery.resolve_style("nowhere.jpg")
    with pytest.raises(BrushworkError, match="did you mean gauguin-arlesiennes"):
        gallery.resolve_style("gaugin-arlesiennes")


def test_import_is_light():
    """Blender's Python and the torch-free install import it: no numpy, torch or PIL."""
    code = ("import sys, core.gallery as g; g.paintings(); g.resolve_style('seurat-grande-jatte');\n"
            "heavy = {'numpy', 'torch', 'PIL', 'onnxruntime'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
