"""The Brushwork tab as an artist uses it, in Blender 4.3's window: one run of the
`artist` scenario (scenarios.py), each of its steps asserted by a test of its own."""
import numpy as np
import pytest
from PIL import Image

STYLIZED = "wood_basecolor.png.stylized"


@pytest.fixture(scope="module")
def artist(gui_env, tmp_path_factory):
    return gui_env.run("artist", tmp_path_factory.mktemp("artist"), timeout=400)


def crop(run, shot: str, box) -> np.ndarray:
    return np.asarray(Image.open(run.shot(shot)).convert("RGB").crop(box), dtype=np.float32)


def test_panel_drawn(artist):
    """The sidebar shows the panel: many distinct colours (the gallery painting, widgets),
    not an empty region."""
    panel = crop(artist, "panel", artist.result["panel_box"])
    assert panel.std() > 20
    assert len(np.unique(panel.reshape(-1, 3), axis=0)) > 2000


def painted_cells(run, shot: str) -> int:
    """How many of the grid's 24 cells (8 × 3, as Blender lays out 24 previews here) hold a
    picture: a blank icon is one flat colour."""
    left, top, right, bottom = run.result["grid_box"]
    grid = crop(run, shot, run.result["grid_box"])
    w, h = (right - left) / 8, (bottom - top) / 3
    cells = [grid[int(r * h + 0.15 * h):int(r * h + 0.6 * h), int(c * w + 0.2 * w):int(c * w + 0.8 * w)]
             for r in range(3) for c in range(8)]
    return sum(cell.std() > 12 for cell in cells)


def test_gallery_grid_shows_paintings(artist):
    """Clicking the gallery opens a grid of its 24 previews: each a painting, none blank."""
    left, top, right, bottom = artist.result["grid_box"]
    assert right - left > 600 and bottom - top > 250, artist.result["grid_box"]
    assert painted_cells(artist, "gallery_grid") == 24


def test_gallery_pick_changes_style(artist):
    r = artist.result
    assert r["style_after"] != r["style_before"], (r["style_before"], r["style_after"])


def test_stylize_progress_shown(artist):
    """While the job runs the panel holds a progress bar and the status bar Brushwork's line."""
    r = artist.result
    assert r["running_status"], "no status while running"
    assert any(0 < fraction < 1 for _, fraction in r["progress"]), r["progress"]
    status = crop(artist, "progress", (0, 1170, 700, 1200))
    idle = crop(artist, "panel", (0, 1170, 700, 1200))
    assert np.abs(status - idle).max() > 100, "the status bar did not change while the job ran"


def test_stylize_result_in_material_preview(artist):
    r = artist.result
    assert STYLIZED in r["stylized"]["images"]
    assert r["stylized"]["links"] != r["original"]["links"]
    assert r["files"] == ["wood_basecolor.stylized.png"], r["files"]
    before = crop(artist, "picked", r["viewport_box"])
    after = crop(artist, "stylized", r["viewport_box"])
    changed = np.abs(after - before).max(axis=2) > 30
    assert changed.mean() > 0.01, f"only {changed.mean():.2%} of the viewport changed"


def test_undo_redo_after_job(artist):
    """Ctrl-Z takes the finished job back (the material as before), Ctrl-Shift-Z redoes it."""
    r = artist.result
    assert r["undone"]["links"] == r["original"]["links"]
    assert r["redone"]["links"] == r["stylized"]["links"]


def test_mix_slider(artist):
    r = artist.result
    assert r["mixed"]["mix"] == 0.5
    before = crop(artist, "stylized", r["viewport_box"])
    mixed = crop(artist, "mixed", r["viewport_box"])
    assert np.abs(mixed - before).max() > 20, "the viewport did not follow the slider"


def test_apply_strength(artist):
    a = artist.result["applied"]
    assert a["strength"] == pytest.approx(0.5) and a["painted"] == pytest.approx(0.5), a
    assert len(a["files"]) == 2, a["files"]


def test_preview(artist):
    p = artist.result["preview"]
    assert p["image"] and p["label"].startswith("wood_basecolor.png"), p
    assert p["state"]["links"] == artist.result["applied"]["state"]["links"], "Preview changed the material"


def test_revert(artist):
    assert artist.result["reverted"]["links"] == artist.result["original"]["links"]
