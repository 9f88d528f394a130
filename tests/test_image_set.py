"""Several images, one look (core/jobs/image_set.py): pooled statistics, per-image output."""
import json
import io

import numpy as np
import pytest

from core.app import cli, worker
from core.engine import stylizer as stylizer_module
from core.errors import BrushworkError
from core.jobs import image_set
from core.media.image_io import read_image
from imaging import photo, save

STYLE = "monet-cliff-walk"  # a gallery painting: trained methods run on it at once


@pytest.fixture
def two(tmp_path):
    a = save(tmp_path / "wall.png", photo(96, 128, seed=1))
    b = save(tmp_path / "door.png", photo(64, 80, seed=2)[..., ::-1].copy())
    return str(a), str(b)


def _job(two, out, **kw):
    return image_set.ImageSetJob(contents=list(two), outputs=[str(out / "a.png"), str(out / "b.png")],
                                 styles=[STYLE], method="wct-r31", **kw)


def test_one_transformation_for_all_and_each_its_own(two, tmp_path, monkeypatch):
    """Pooled: the statistics are computed once over both images and every image is painted
    with them; separate: each image's own, so the shared image differs."""
    seen = []
    real = stylizer_module.Stylizer.run

    def spy(self, rgb, styles, settings, progress=None, cancel=None, content=None):
        seen.append(content)
        return real(self, rgb, styles, settings, progress, cancel, content)
    monkeypatch.setattr(stylizer_module.Stylizer, "run", spy)
    (tmp_path / "p").mkdir(), (tmp_path / "s").mkdir()
    r = image_set.run(_job(two, tmp_path / "p"))
    assert r.pooled and len(seen) == 2 and seen[0] is seen[1] is not None
    seen.clear()
    s = image_set.run(_job(two, tmp_path / "s", pooled=False))
    assert not s.pooled and seen == [None, None]
    a_pooled, a_alone = (read_image(p).color for p in (r.outputs[0], s.outputs[0]))
    assert a_pooled.shape == (96, 128, 3) and np.abs(a_pooled - a_alone).mean() > 0.005  # [0, 1]


def test_outputs_are_checked_before_any_work(two, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    with pytest.raises(BrushworkError, match="one output per content"):
        image_set.run(image_set.ImageSetJob(contents=list(two), outputs=[str(out / "a.png")], styles=[STYLE]))
    (out / "b.png").write_bytes(b"the artist's file")
    with pytest.raises(BrushworkError, match="already exists"):
        image_set.run(_job(two, out))
    assert sorted(p.name for p in out.iterdir()) == ["b.png"] and (out / "b.png").read_bytes() == b"the artist's file"


def test_cli_and_worker_paint_a_set(two, tmp_path, capfd):
    rc = cli.main(["stylize", *two, "--style", STYLE, "-o", str(tmp_path / "cli"), "--method", "wct-r31", "--quiet"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == ["door.png", "wall.png"] and "one look" in out
    spec = {"contents": list(two), "outputs": [str(tmp_path / "w1.png"), str(tmp_path / "w2.png")],
            "styles": [STYLE], "method": "wct-r31"}
    stdout = io.StringIO()
    assert worker.main(io.StringIO(json.dumps(spec)), stdout) == 0
    result = json.loads(stdout.getvalue().splitlines()[-1])
    assert result["status"] == "ok" and result["pooled"] and len(result["outputs"]) == 2


def test_cli_style_flag_with_one_content_writes_that_image(two, tmp_path, capfd):
    """`stylize a.png --style S -o out.png` is one image, as `stylize a.png S -o out.png`
    is: not a folder named out.png. With several contents an image-like -o is refused."""
    out = tmp_path / "out.png"
    rc = cli.main(["stylize", two[0], "--style", STYLE, "-o", str(out), "--method", "wct-r31", "--quiet"])
    _, err = capfd.readouterr()
    assert rc == 0, err
    assert out.is_file() and read_image(str(out)).color.shape == (96, 128, 3)
    rc = cli.main(["stylize", *two, "--style", STYLE, "-o", str(tmp_path / "set.png"), "--method", "wct-r31"])
    _, err = capfd.readouterr()
    assert rc == 2 and "names a folder, not an image" in err and not (tmp_path / "set.png").exists()
