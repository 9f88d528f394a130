"""`brushwork learn PAINTING`: ccpl-r31 tuned to one painting (core/training/learn.py), kept
in a per-user cache (core/nets/learned.py) and used by every later job with that painting.

A few steps on tiny crops: what is tested is the plumbing (the file, its header, its use,
when it is not used, stopping), not the quality (docs/quality.md measures that)."""
import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from core.app import worker
from core.errors import Cancelled
from core.media.image_io import read_image
from core.nets import learned, safetensors_file, weights
from core.training import learn
from support import DATA, ROOT, run_cli

TINY = dict(size=64, batch=2)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("learned")


@pytest.fixture(autouse=True)
def _cache_env(cache, monkeypatch):
    monkeypatch.setenv("BRUSHWORK_LEARNED", str(cache))
    monkeypatch.setattr(learned, "_warned", set())


@pytest.fixture(scope="module")
def painting(tmp_path_factory):
    path = tmp_path_factory.mktemp("painting") / "saint_francis.jpg"
    shutil.copy(DATA / "painting.jpg", path)
    return path


@pytest.fixture(scope="module")
def learnt(painting, cache):
    import os
    saved = os.environ.get("BRUSHWORK_LEARNED")
    os.environ["BRUSHWORK_LEARNED"] = str(cache)
    try:
        return learn.learn(str(painting), [str(DATA / "photo.jpg")], steps=2, **TINY)
    finally:
        os.environ["BRUSHWORK_LEARNED"] = saved


run = run_cli   # (exit code, stdout, stderr) of the CLI in-process


def stylize(capfd, style, out, *flags):
    rc, _, err = run(capfd, "stylize", DATA / "photo.jpg", style, "-o", out, "--method", "ccpl-r31",
                     "--backend", "torch", "--quiet", "--tile", "0", *flags)
    assert rc == 0, err
    return read_image(str(out)).color, err


def _rewrite(src: Path, dst: Path, **meta):
    """A copy of a learned file with some header fields replaced (tensors as they are)."""
    arrays = load_file(str(src))
    header = safetensors_file.metadata(src)
    header.update(meta)
    save_file(arrays, str(dst), metadata=header)


def test_the_recipe_is_train_tomls_ccpl_r31_joint():
    toml = tomllib.loads((ROOT / "scripts" / "train.toml").read_text())["ccpl_r31_joint"]
    assert {k: v for k, v in toml.items() if k != "iters"} == learn.RECIPE


def test_learning_writes_the_painting_file_with_its_header(learnt, painting, cache):
    sha = learned.painting_sha256(painting)
    path = Path(learnt.output)
    assert path == cache / f"{sha}.safetensors" and sorted(p.name for p in cache.iterdir()) == [path.name]
    meta = learned.header(path)
    assert meta["painting_sha256"] == sha and meta["method"] == "ccpl-r31"
    assert meta["base_sha256"] == {k: weights.REGISTRY[k].sha256 for k in ("ccpl_r31", "ccpl_decoder_r31")}
    assert meta["steps"] == "2" and meta["stopped"] == "false" and meta["contents"] == "1 images"
    assert set(meta["losses"]) == {"start", "best"} and {"content", "style", "ccp", "shift"} <= set(meta["losses"]["best"])
    assert all(a.dtype == np.float16 for a in safetensors_file.read(path).values())
    tuned = learned.read(path)
    shipped = weights.load("ccpl_r31")
    assert set(tuned["ccpl_r31"]) == set(shipped)
    assert any(not np.array_equal(tuned["ccpl_r31"][n], shipped[n].astype(np.float16).astype(np.float32))
               for n in shipped)


def test_a_later_stylize_uses_it_and_no_learned_is_the_shipped_model(capfd, learnt, painting, tmp_path, monkeypatch):
    with_learned, err = stylize(capfd, painting, tmp_path / "a.png")
    without, _ = stylize(capfd, painting, tmp_path / "b.png", "--no-learned")
    assert "warning" not in err
    monkeypatch.setenv("BRUSHWORK_LEARNED", str(tmp_path / "empty"))
    shipped, _ = stylize(capfd, painting, tmp_path / "c.png")
    assert np.array_equal(without, shipped)
    assert np.abs(with_learned - shipped).max() > 1 / 255


def test_onnxruntime_paints_with_the_learned_weights_too(capfd, learnt, painting, tmp_path):
    pytest.importorskip("onnxruntime")
    torch_learned, _ = stylize(capfd, painting, tmp_path / "t.png")
    onnx_learned, _ = stylize(capfd, painting, tmp_path / "o.png", "--backend", "onnx")
    onnx_shipped, _ = stylize(capfd, painting, tmp_path / "s.png", "--backend", "onnx", "--no-learned")
    assert np.abs(onnx_learned - torch_learned).max() <= 2 / 255
    assert np.abs(onnx_learned - onnx_shipped).max() > 1 / 255


def test_another_painting_or_method_finds_nothing(learnt, painting):
    assert learned.lookup(str(painting), "ccpl-r31") is not None
    assert learned.lookup(str(DATA / "monet_pourville.jpg"), "ccpl-r31") is None
    assert learned.lookup(str(painting), "linear-r31") is None


def test_a_changed_painting_is_not_used_and_a_warning_says_so_once(learnt, painting, tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    cache.mkdir()
    copy = tmp_path / "mine.jpg"
    shutil.copy(painting, copy)
    _rewrite(Path(learnt.output), cache / Path(learnt.output).name, painting_path=str(copy.resolve()))
    monkeypatch.setenv("BRUSHWORK_LEARNED", str(cache))
    assert learned.lookup(str(copy), "ccpl-r31") is not None
    copy.write_bytes(copy.read_bytes() + b"\0")    # edited since
    assert learned.lookup(str(copy), "ccpl-r31") is None
    assert learned.lookup(str(copy), "ccpl-r31") is None
    err = capsys.readouterr().err
    assert err.count("changed since it was learned") == 1


def test_other_base_weights_or_damaged_tensors_are_not_used(learnt, painting, tmp_path, monkeypatch, capsys):
    name = Path(learnt.output).name
    for case, change in (("base", dict(base_sha256=json.dumps({"ccpl_r31": "0" * 64,
                                                             "ccpl_decoder_r31": weights.REGISTRY["ccpl_decoder_r31"].sha256}))),
                         ("tensors", dict(tensors_sha256="1" * 64))):
        cache = tmp_path / case
        cache.mkdir()
        _rewrite(Path(learnt.output), cache / name, **change)
        monkeypatch.setenv("BRUSHWORK_LEARNED", str(cache))
        assert learned.lookup(str(painting), "ccpl-r31") is None, case
    err = capsys.readouterr().err
    assert "learned from other ccpl-r31 weights" in err and "do not match the sha256" in err


def test_a_tampered_base_sha_in_the_registry_ignores_it(learnt, painting, monkeypatch):
    entry = weights.REGISTRY["ccpl_decoder_r31"]
    monkeypatch.setitem(weights.REGISTRY, "ccpl_decoder_r31", weights.Entry("f" * 64, entry.command))
    assert learned.lookup(str(painting), "ccpl-r31") is None


def test_cancel_mid_learn_keeps_the_best_so_far_and_no_partial_file(painting, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("BRUSHWORK_LEARNED", str(cache))
    asked = []
    r = learn.learn(str(painting), [str(DATA / "photo.jpg")], steps=50, cancel=lambda: asked.append(1) or len(asked) > 3,
                    **TINY)
    assert r.stopped and r.steps == 3 and 1 <= r.best_step <= 3
    assert [p.name for p in cache.iterdir()] == [Path(r.output).name]
    meta = learned.header(Path(r.output))
    assert meta["stopped"] == "true" and meta["steps"] == "3" and meta["planned"] == "50"
    assert learned.read(Path(r.output))


def test_ctrl_c_mid_learn_keeps_the_best_so_far(painting, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("BRUSHWORK_LEARNED", str(cache))

    def progress(fraction, stage):
        if stage == "learning" and fraction >= 2 / 50:
            raise KeyboardInterrupt
    r = learn.learn(str(painting), [str(DATA / "photo.jpg")], steps=50, progress=progress, **TINY)
    assert r.stopped and r.steps == 2
    assert [p.name for p in cache.iterdir()] == [Path(r.output).name]


def test_a_cancel_before_any_step_writes_nothing(painting, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("BRUSHWORK_LEARNED", str(cache))
    with pytest.raises(Cancelled):
        learn.learn(str(painting), [str(DATA / "photo.jpg")], steps=5, cancel=lambda: True, **TINY)
    assert not cache.exists() or not list(cache.iterdir())


@pytest.mark.parametrize("args, words", [
    (["learn", "no_such_painting.jpg"], "no_such_painting.jpg"),
    (["learn", DATA / "painting.jpg", "--content", "EMPTY"], "no images"),
    (["learn", DATA / "painting.jpg", "--content", "MISSING.png"], "no such file"),
    (["learn", DATA / "painting.jpg", "--steps", "0"], "--steps 0"),
    (["learn", DATA / "painting.jpg", "--minutes", "nan"], "--minutes nan"),
    (["learn", DATA / "painting.jpg", "--minutes", "-1"], "--minutes -1"),
    (["learn", DATA / "painting.jpg", "--steps", "3", "--minutes", "1"], "not allowed with"),
])
def test_bad_inputs_are_one_line_errors(capfd, tmp_path, args, words):
    (tmp_path / "EMPTY").mkdir()
    args = [str(tmp_path / a) if a in ("EMPTY", "MISSING.png") else a for a in args]
    rc, out, err = run(capfd, *args)
    assert rc == 2 and err.count("\n") == 1 and err.startswith("brushwork: error:") and words in err, err
    assert "Traceback" not in err


def test_the_worker_runs_a_learn_job_and_refuses_a_bad_one(painting, tmp_path, monkeypatch):
    import io
    monkeypatch.setenv("BRUSHWORK_LEARNED", str(tmp_path / "cache"))
    out = io.StringIO()
    assert worker.main(io.StringIO(json.dumps({"learn": str(painting), "steps": 0})), out) == 2
    result = json.loads(out.getvalue().splitlines()[-1])
    assert result["status"] == "error" and "steps 0" in result["message"]
    out = io.StringIO()
    spec = {"learn": str(painting), "contents": [str(DATA / "photo.jpg")], "steps": 1}
    monkeypatch.setattr(learn, "RECIPE", dict(learn.RECIPE, size=64, batch=2))
    assert worker.main(io.StringIO(json.dumps(spec)), out) == 0
    result = json.loads(out.getvalue().splitlines()[-1])
    assert result["status"] == "ok" and result["steps"] == 1 and Path(result["output"]).is_file()


def test_the_procedural_contents_are_fixed_and_varied():
    a, b = learn.procedural_contents(6), learn.procedural_contents(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert all(x.shape == (256, 320, 3) and x.dtype == np.uint8 and x.std() > 10 for x in a)


def test_the_evaluations_learned_runner_uses_each_paintings_file_and_refuses_a_missing_one(
        learnt, painting, cache, tmp_path):
    """scripts/evaluate.py --learned: the learned model for the painting that was learned,
    the shipped one nowhere (a painting without a file is an error naming it)."""
    from core.engine.stylizer import Settings, Stylizer
    from core.errors import BrushworkError
    from core.training import evaluate as ev
    from core.training.evaluate import learned_runner
    photo = ev.load_image(DATA / "photo.jpg", 96)
    styles = {painting.name: ev.load_image(painting, 96),
              "monet_pourville.jpg": ev.load_image(DATA / "monet_pourville.jpg", 96)}
    files = {painting.name: painting, "monet_pourville.jpg": DATA / "monet_pourville.jpg"}
    runner = learned_runner(cache, styles, files)
    out = runner.fn(photo, styles[painting.name])
    shipped = Stylizer("ccpl-r31", device="cpu", learned={})
    base = np.clip(shipped.run(photo, [shipped.style(styles[painting.name])], Settings(tile=0)), 0, 1)
    assert out.shape == base.shape and np.abs(out - base).mean() > 1e-4
    with pytest.raises(BrushworkError, match="monet_pourville.jpg"):
        runner.fn(photo, styles["monet_pourville.jpg"])

