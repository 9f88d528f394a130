"""Training code: held-out data stays out, training modules equal the inference maths,
checkpoints resume exactly, exported files load into the engine."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.backends.torch import nets
from core.nets import weights
from core.nets.architecture import ENCODERS, MODELS, Net
from core.backends.torch.backend import TorchBackend
from core.engine.methods import METHODS, Transform, content_side, style_side
from core.training import data, loop, losses
from core.training.modules import Encoder, LinearTransform, decoder
from imaging import photo


def _grey(tmp_path, name, rgb):
    path = tmp_path / name
    Image.fromarray((rgb * 255).astype(np.uint8)).save(path, quality=80)
    return data._grey(path, data.THUMB)


def test_validation_names_are_read_from_both_lists(tmp_path):
    md = tmp_path / "VALIDATION.md"
    md.write_text("# split\n\n## content (2)\na_photo.jpg\nb.jpg\n\n## style (1)\nthe_scream.jpg\n")
    assert data.validation_names(md) == {"content": ["a_photo.jpg", "b.jpg"], "style": ["the_scream.jpg"]}


def test_a_cropped_resized_copy_is_caught_and_another_picture_is_not(tmp_path):
    held = photo(240, 320, seed=1)
    g_held = _grey(tmp_path, "held.jpg", held)
    crop = np.asarray(Image.fromarray((held[30:210, 50:290] * 255).astype(np.uint8)).resize((160, 120)))
    g_crop = _grey(tmp_path, "crop.jpg", crop / 255)
    g_other = _grey(tmp_path, "other.jpg", photo(240, 320, seed=2)[::-1, ::-1])
    assert data.copy_score(g_held, g_crop) >= data.COPY_SCORE
    assert data.copy_score(g_held, g_other) < data.COPY_SCORE


def test_batches_are_deterministic_shaped_and_in_range():
    imgs = [torch.randint(0, 256, (3, 90 + 7 * i, 120), dtype=torch.uint8) for i in range(5)]
    a = data.batch(imgs, 4, 64, torch.Generator().manual_seed(3), "cpu", jitter=0.2)
    b = data.batch(imgs, 4, 64, torch.Generator().manual_seed(3), "cpu", jitter=0.2)
    c = data.batch(imgs, 4, 64, torch.Generator().manual_seed(4), "cpu", jitter=0.2)
    assert a.shape == (4, 3, 64, 64) and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1


def test_painterly_filters_keep_size_and_change_the_photo():
    rgb = (photo(96, 128) * 255).astype(np.uint8)
    for kind in range(4):
        out = data.painterly(rgb, kind)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - rgb).mean() > 2


@pytest.fixture(scope="module")
def backend():
    keys = ("vgg19", "encoder_r31", "encoder_r41", "decoder_r31", "linear_r31", "ccpl_r41", "decoder_r41")
    return TorchBackend({k: weights.random(k) for k in keys}, "cpu")


def _nchw(x):
    return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None]


def test_training_encoder_and_decoder_equal_the_inference_networks(backend):
    img = photo(64, 80)
    feats = backend.run(Net.encoder("r31"), img)
    taps = Encoder(backend.weights["encoder_r31"], "relu3_1")(_nchw(img))
    assert np.allclose(taps["relu3_1"][0].permute(1, 2, 0).numpy(), feats, rtol=1e-4, atol=1e-2)
    dec = decoder("decoder_r31", backend.weights["decoder_r31"])
    ref = backend.run(Net.of("decoder_r31", "decoder"), feats)
    assert np.allclose(dec(_nchw(feats))[0].permute(1, 2, 0).detach().numpy(), ref, atol=1e-4)


@pytest.mark.parametrize("method", ["linear-r31", "ccpl"])
def test_training_transform_equals_the_engine_transform(backend, method):
    """What training optimises is exactly what the engine runs (same centring, Gram norm),
    at relu3_1 and at relu4_1 (ccpl: Linear's module, 512 channels)."""
    m = METHODS[method]
    wts = backend.weights[m.transform]
    c_feats = backend.run(Net.encoder(m.layer), photo(64, 96, seed=1))
    s_img = photo(72, 72, seed=2)[..., ::-1].copy()
    side = style_side(m, backend, backend.weights, s_img)
    content = content_side(m, backend, backend.weights, c_feats, "none", 0)
    engine = Transform(m, backend.weights, content, [(side, 1.0)], 1.0)(c_feats)
    module = LinearTransform(m.transform, wts)
    s_feats = backend.run(Net.encoder(m.layer), s_img)
    trained = module(_nchw(c_feats), _nchw(s_feats))[0].permute(1, 2, 0).detach().numpy()
    scale = np.abs(engine).max()
    assert np.abs(trained - engine).max() < 2e-3 * scale


def test_exported_names_and_shapes_are_the_registry_tables():
    for key, module in (("decoder_r41", decoder("decoder_r41")), ("linear_r41", LinearTransform("linear_r41")),
                        ("ccpl_r41", LinearTransform("ccpl_r41"))):
        named = module.named()
        assert {n: tuple(p.shape) for n, p in named.items()} == MODELS[key].params()


def test_a_resumed_run_equals_an_unbroken_one(tmp_path):
    def make():
        torch.manual_seed(0)
        net = torch.nn.Linear(4, 1)
        names = {"w": net.weight, "b": net.bias}

        def step(g, it):
            x = torch.randn(8, 4, generator=g)
            return {"loss": ((net(x) - x.sum(1, keepdim=True)) ** 2).mean()}
        return names, step

    names, step = make()
    loop.run("a", names, step, out_dir=tmp_path / "a", total=30, lr=1e-2, seed=1, minutes=5, log_every=10)
    names2, step2 = make()
    loop.run("b", names2, step2, out_dir=tmp_path / "b", total=12, lr=1e-2, seed=1, minutes=5, log_every=10)
    names3, step3 = make()  # a new process: same init, then the checkpoint
    assert loop.run("b", names3, step3, out_dir=tmp_path / "b", total=30, lr=1e-2, seed=1, minutes=5) == 30
    for n in names:
        assert torch.allclose(names[n], names3[n], atol=1e-6)
    assert (tmp_path / "a" / "a.log.jsonl").read_text().count("\n") == 3


def test_sigterm_ends_a_run_with_its_steps_checkpointed(tmp_path):
    """`kill PID` on a background run: the step in flight finishes, the checkpoint holds
    it, and the handlers that were there before come back."""
    import os
    import signal

    net = torch.nn.Linear(4, 1)
    names = {"w": net.weight, "b": net.bias}

    def step(g, it):
        if it == 6:
            os.kill(os.getpid(), signal.SIGTERM)
        x = torch.randn(8, 4, generator=g)
        return {"loss": ((net(x) - x.sum(1, keepdim=True)) ** 2).mean()}

    before = signal.getsignal(signal.SIGTERM)
    assert loop.run("k", names, step, out_dir=tmp_path, total=30, lr=1e-2, seed=1, minutes=5) == 7
    assert signal.getsignal(signal.SIGTERM) is before
    assert loop.load_checkpoint(tmp_path / "k.ckpt.safetensors", names,
                                torch.optim.Adam(names.values())) == 7


def test_a_resumed_run_forgets_the_steps_a_killed_run_logged_past_its_checkpoint(tmp_path):
    """Killed outright (no handler runs) after logging step 20 but checkpointing at 10: the
    resumed run takes steps 11-20 again, and the log holds each step once."""
    net = torch.nn.Linear(4, 1)
    names = {"w": net.weight, "b": net.bias}

    def step(g, it):
        x = torch.randn(8, 4, generator=g)
        return {"loss": ((net(x) - x.sum(1, keepdim=True)) ** 2).mean()}

    loop.run("k", names, step, out_dir=tmp_path, total=10, lr=1e-2, seed=1, minutes=5, log_every=5)
    log = tmp_path / "k.log.jsonl"
    with open(log, "a") as f:  # what the killed run had logged beyond its checkpoint
        for s in (15, 20):
            f.write(json.dumps({"step": s, "loss": 99.0}) + "\n")
    assert loop.run("k", names, step, out_dir=tmp_path, total=20, lr=1e-2, seed=1, minutes=5, log_every=5) == 20
    rows = [json.loads(r) for r in log.read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    assert all(r["loss"] != 99.0 for r in rows)


def test_a_run_from_shipped_weights_counts_on_from_their_step(tmp_path):
    """No checkpoint, weights loaded from step 20: the count goes on from there (down the
    same cosine), with the warm-up repeated because Adam starts afresh."""
    net = torch.nn.Linear(4, 1)
    names = {"w": net.weight, "b": net.bias}
    seen = []

    def step(g, it):
        seen.append(it)
        x = torch.randn(8, 4, generator=g)
        return {"loss": ((net(x) - x.sum(1, keepdim=True)) ** 2).mean()}

    assert loop.run("s", names, step, out_dir=tmp_path, total=30, lr=1e-2, seed=1, minutes=5,
                    log_every=10, start=20) == 30
    assert seen == list(range(20, 30))
    rows = [json.loads(r) for r in (tmp_path / "s.log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [30]
    assert rows[0]["lr"] == pytest.approx(loop.cosine_lr(1e-2, 29, 30) * 10 / loop.WARMUP)
    assert loop.run("s", names, step, out_dir=tmp_path, total=40, lr=1e-2, seed=1, minutes=5,
                    log_every=10, start=20) == 40  # the checkpoint wins over `start`
    assert seen[10] == 30
    rows = [json.loads(r) for r in (tmp_path / "s.log.jsonl").read_text().splitlines()]
    # resumed in mid warm-up: it goes on from step 20's warm-up, not at the full rate
    assert rows[-1]["lr"] == pytest.approx(loop.cosine_lr(1e-2, 39, 40) * 20 / loop.WARMUP)


def test_shipped_step_is_read_from_the_files_own_provenance():
    from core.nets import safetensors_file
    from core.training.stages import shipped_step

    trained = [k for k in MODELS if weights.is_trained(k) and k.startswith(("linear", "ccpl"))]
    assert trained
    for key in trained:
        meta = safetensors_file.metadata(weights.MODELS_DIR / MODELS[key].file)
        assert shipped_step(meta["stage"], [key]) == int(meta["step"]) > 0
        assert shipped_step("another_stage", [key]) == 0
    assert shipped_step("x", []) == 0


def test_style_and_content_losses_follow_eval_definitions():
    g = torch.Generator().manual_seed(0)
    a = {k: torch.rand(2, 8, 6, 6, generator=g) + 0.1 for k in losses.STYLE_LAYERS}
    b = {k: torch.rand(2, 8, 6, 6, generator=g) * 3 for k in losses.STYLE_LAYERS}
    assert torch.allclose(losses.style_loss(a, a), torch.zeros(2), atol=1e-6)
    assert (losses.style_loss(a, b) > 0.1).all()
    assert torch.allclose(losses.content_loss(a["relu4_1"], a["relu4_1"]), torch.zeros(2))
    x = torch.rand(2, 3, 8, 8, generator=g)
    assert torch.isinf(losses.psnr(x, x)).logical_not().all() and (losses.psnr(x, x) > 90).all()


def test_shift_consistency_is_zero_for_a_painting_that_moves_with_the_photo():
    from core.training.losses import shift_consistency
    torch.manual_seed(0)
    big = torch.rand(2, 3, 40, 40)
    still = torch.cat([big[:, :, :32, :32], big[:, :, 3:35, 5:37]])  # the same picture, moved
    assert float(shift_consistency(still, 3, 5)) < 1e-12
    assert float(shift_consistency(still, 5, 3)) > 0.05  # the wrong move: unrelated pixels
    drawn_on_the_grid = torch.cat([big[:, :, :32, :32], big[:, :, :32, :32]])  # did not move
    assert float(shift_consistency(drawn_on_the_grid, 3, 5)) > 0.05


def test_move_consistency_is_zero_for_a_painting_that_moves_with_the_photo():
    """The sub-pixel drift and zoom of `move = "similarity"`: a smooth picture moved by
    the same bicubic map agrees with itself; one that stays on its grid, or moved the
    other way, does not."""
    from core.training.losses import move, move_consistency
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 48), indexing="ij")
    big = torch.stack([torch.sin(6 * xs + 3 * ys), torch.cos(5 * ys), xs * ys])[None].repeat(2, 1, 1, 1)
    first = big[:, :, 8:40, 8:40]
    moved = move(big, 32, 1.03, 2.5, -1.75)
    assert float((move(big, 32, 1.0, 0.0, 0.0) - first).abs().max()) < 1e-5
    assert float(move_consistency(torch.cat([first, moved]), 1.03, 2.5, -1.75)) < 1e-4
    assert float(move_consistency(torch.cat([first, moved]), 0.97, -2.5, 1.75)) > 2e-3
    assert float(move_consistency(torch.cat([first, first]), 1.03, 2.5, -1.75)) > 2e-3


def test_similarity_moves_feed_the_consistency_term_its_own_move():
    """A stage with `move = "similarity"` pairs each photo with its moved copy, and the
    term it returns is near zero when the painting is the photo itself."""
    from core.training import stages
    stage = object.__new__(stages.Stage)
    stage.cfg = {"batch": 4, "size": 32, "shift_weight": 1.0, "move": "similarity"}
    stage.device = torch.device("cpu")
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 300), torch.linspace(0, 1, 300), indexing="ij")
    smooth = torch.stack([torch.sin(9 * xs + 4 * ys), torch.cos(7 * ys), xs * ys]) * 0.4 + 0.5
    img = (smooth * 255).round().to(torch.uint8)
    stage.images = {"content": [img] * 3, "style": [img] * 3}
    cb, sb, consistency = stage._content_style(torch.Generator().manual_seed(3))
    assert cb.shape == (4, 3, 32, 32) and sb.shape == (2, 3, 32, 32)
    assert float(consistency(cb)) < 1e-4
    assert float(consistency(torch.cat([cb[:2], cb[:2]]))) > float(consistency(cb)) * 10


def test_ccp_loss_rewards_kept_neighbour_differences():
    g = torch.Generator().manual_seed(0)
    feat = torch.rand(1, 16, 12, 12, generator=g)
    mlp = torch.nn.Identity()
    same = losses.ccp_loss(feat * 2 + 1, feat, mlp, generator=torch.Generator().manual_seed(1))
    shuffled = feat.flatten(2)[..., torch.randperm(144, generator=g)].view_as(feat)
    other = losses.ccp_loss(shuffled, feat, mlp, generator=torch.Generator().manual_seed(1))
    assert float(same) < float(other) - 1


def test_exported_channels_last_weights_load_in_logical_order(tmp_path):
    """The engine reads what training had: fp16, (out, in, kh, kw), whatever the memory format."""
    from safetensors.numpy import load_file
    from core.training.stages import export

    dec = decoder("decoder_r31").to(memory_format=torch.channels_last)
    export({"decoder_r31": dec}, tmp_path, {"stage": "test"})
    saved = load_file(str(tmp_path / "decoder_r31.safetensors"))
    for name, p in dec.named().items():
        assert saved[name].dtype == np.float16
        assert np.allclose(saved[name].astype(np.float32), p.detach().numpy(), rtol=2e-3, atol=1e-6)


def test_a_failed_safetensors_write_keeps_the_previous_file(tmp_path):
    """Checkpoints, banks, packs and shipped weights are written whole or not at all."""
    from safetensors.numpy import load_file
    from core.training.loop import write_safetensors

    path = tmp_path / "w.safetensors"
    write_safetensors(path, {"a": np.ones(3, np.float32)}, {"step": "1"}, mode=0o644)
    with pytest.raises(Exception):      # a torch tensor among numpy arrays cannot be saved
        write_safetensors(path, {"a": np.zeros(3, np.float32), "b": torch.zeros(2)})
    assert load_file(str(path))["a"].tolist() == [1, 1, 1]
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


@pytest.fixture(scope="module")
def tiny_pack(tmp_path_factory):
    """A pack of five made-up photos and two paintings (plus painterly copies)."""
    root = tmp_path_factory.mktemp("data")
    lists = {"content": [], "style": []}
    for kind, n in (("content", 5), ("style", 2)):
        (root / kind).mkdir()
        for i in range(n):
            name = f"{kind}{i}.jpg"
            Image.fromarray((photo(80, 96, seed=i + 10 * n) * 255).astype(np.uint8)).save(root / kind / name)
            lists[kind].append(name)
    path = root / "pack.safetensors"
    info = data.pack(root, lists, path, painterly_count=2)
    assert info["content"] == 5 and info["style"] == 4
    return path


@pytest.mark.parametrize("name, cfg", [
    ("decoder_r41", {"kind": "decoder", "layer": "r41", "pixel_weight": 1.0, "perceptual_weight": 0.01,
                     "style_share": 0.5}),
    ("linear_r31", {"kind": "linear", "layer": "r31", "content_weight": 1.0, "style_weight": 5.0}),
    ("ccpl_r31", {"kind": "linear", "model": "ccpl_r31", "init": "linear_r31", "layer": "r31",
                  "content_weight": 1.0, "style_weight": 5.0, "ccp_weight": 0.5}),
    ("ccpl", {"kind": "linear", "model": "ccpl_r41", "init": "linear_r41", "layer": "r41",
              "content_weight": 1.0, "style_weight": 5.0, "ccp_weight": 0.5}),
    ("ccpl_joint", {"kind": "linear", "model": "ccpl_r41", "init": "linear_r41", "layer": "r41",
                    "decoder": "ccpl_decoder_r41", "init_decoder": "decoder_r41",
                    "content_weight": 1.0, "style_weight": 5.0, "ccp_weight": 0.5}),
    ("ccpl_joint", {"kind": "linear", "model": "ccpl_r41", "init": "linear_r41", "layer": "r41",
                    "decoder": "ccpl_decoder_r41", "init_decoder": "decoder_r41", "content_weight": 1.0,
                    "style_weight": 5.0, "ccp_weight": 0.5, "shift_weight": 1.0}),
    ("ccpl_r31_joint", {"kind": "linear", "model": "ccpl_r31", "init": "linear_r31", "layer": "r31",
                        "decoder": "ccpl_decoder_r31", "init_decoder": "decoder_r31", "content_weight": 1.0,
                        "style_weight": 5.0, "ccp_weight": 0.5, "shift_weight": 1.0}),
    ("ccpl_joint", {"kind": "linear", "model": "ccpl_r41", "init": "linear_r41", "layer": "r41",
                    "decoder": "ccpl_decoder_r41", "init_decoder": "decoder_r41", "content_weight": 1.0,
                    "style_weight": 5.0, "ccp_weight": 0.5, "shift_weight": 1.0, "move": "similarity"}),
    ("decoder_head_r41", {"kind": "head", "layer": "r41", "style_share": 0.5, "bank": 4}),
    ("decoder_r41", {"kind": "decoder", "layer": "r41", "pixel_weight": 1.0, "perceptual_weight": 0.0,
                     "bank": 4}),
])
def test_every_stage_trains_checkpoints_and_exports_loadable_weights(tiny_pack, tmp_path, name, cfg):
    from safetensors.numpy import load_file
    from core.training.stages import Stage

    from safetensors.numpy import save_file

    cfg = dict(cfg, size=48, batch=2, iters=2, lr=1e-4)
    if cfg.get("shift_weight"):
        cfg["size"] = 40  # its content crops are larger, then cut (or resampled) into the pair
    if cfg["kind"] == "linear" and cfg["layer"] == "r41" and not weights.is_trained("decoder_r41"):
        # trains against (or, with a decoder of its own, from) the r41 decoder
        save_file(weights.random("decoder_r41"), str(tmp_path / "decoder_r41.ckpt.safetensors"))
    if cfg.get("init"):  # a fresh CCPL stage starts from Linear's weights at its layer
        start = weights.random(cfg["init"])
        start["unzip.bias"] = start["unzip.bias"] + 0.25
        save_file(start, str(tmp_path / f"{cfg['init']}.ckpt.safetensors"))
    stage = Stage(name, cfg, tiny_pack, tmp_path, "cpu")
    if weights.is_trained(f"decoder_{cfg['layer']}") and cfg["kind"] == "decoder":
        shipped = weights.load(f"decoder_{cfg['layer']}")  # continues from models/
        assert all(np.allclose(p.detach().numpy(), shipped[n]) for n, p in stage.dec.named().items())
    if cfg.get("init") and not weights.is_trained(cfg["model"]):
        assert np.allclose(stage.trans.unzip.bias.detach().numpy(), start["unzip.bias"])
    before = {n: p.detach().clone() for n, p in stage.trainable.items()}
    assert loop.run(name, stage.trainable, stage.step, out_dir=tmp_path, total=2, lr=1e-4, seed=0,
                    minutes=5, lr_scales=stage.lr_scales, log_every=1) == 2
    assert any(not torch.equal(before[n], p) for n, p in stage.trainable.items())
    if cfg.get("decoder"):  # CCPL's recipe: its own decoder learns too, continuing the shipped
        # one, or, before one ships, starting from the shared decoder
        first = next(k for k in (cfg["decoder"], cfg["init_decoder"]) if weights.is_trained(k))
        start = weights.load(first)
        assert all(np.allclose(before[f"decoder.{n}"].numpy(), start[n]) for n in start)
        assert any(not torch.equal(before[f"decoder.{n}"], p) for n, p in stage.dec.named().items())
    written = stage.export(tmp_path, {"stage": name})
    if cfg.get("decoder"):
        assert set(written) == {f"{cfg['model']}.safetensors", f"{cfg['decoder']}.safetensors"}
    for file in written:
        key = next(k for k, m in MODELS.items() if m.file == file)
        arrays = load_file(str(tmp_path / file))
        assert {n: a.shape for n, a in arrays.items()} == MODELS[key].params()
        assert all(np.isfinite(a).all() for a in arrays.values())


@pytest.mark.parametrize("layer", ["r31", "r41"])
def test_stages_see_the_shipped_encoders_features(tiny_pack, tmp_path, layer):
    """Training takes its losses on the raw VGG-19 and feeds the transformation the
    shipped normalised encoder's features: one pass, divided by the exact channel scales."""
    from core.training.stages import Stage

    cfg = {"kind": "linear", "layer": layer, "content_weight": 1.0, "style_weight": 5.0,
           "size": 48, "batch": 2, "iters": 1, "lr": 1e-4}
    if not weights.is_trained(f"decoder_{layer}"):  # the transformation trains against a decoder
        from safetensors.numpy import save_file
        save_file(weights.random(f"decoder_{layer}"), str(tmp_path / f"decoder_{layer}.ckpt.safetensors"))
    stage = Stage(f"linear_{layer}", cfg, tiny_pack, tmp_path, "cpu")
    img = photo(64, 80, seed=4)
    key = f"encoder_{layer}"
    shipped = TorchBackend({key: weights.load(key)}, "cpu").run(Net.encoder(layer), img)
    with torch.no_grad():
        seen = stage._trans_in(stage.enc(_nchw(img)))[0].permute(1, 2, 0).numpy()
    assert np.abs(seen - shipped).max() < 1e-4 * np.abs(shipped).max()


def test_bf16_autocast_only_where_the_cpu_has_it(monkeypatch):
    monkeypatch.setattr(loop, "cpu_has_bf16", lambda: False)
    with loop.autocast("cpu"):
        assert not torch.is_autocast_enabled("cpu")
    monkeypatch.setattr(loop, "cpu_has_bf16", lambda: True)
    with loop.autocast("cpu"):
        assert torch.is_autocast_enabled("cpu")


def test_bf16_only_where_the_cpu_has_it_and_it_measures_faster(monkeypatch):
    """AVX-512 BF16 without AMX can be slower than fp32: the flag lets bf16 be tried,
    the timing decides; AMX decides alone (no timing a loaded machine could flip);
    without the flags nothing is timed."""
    timed = []
    for flags, speedup, expected in ((["avx2"], 3.0, False), (["avx512_bf16"], 0.7, False),
                                     (["avx512_bf16"], 2.5, True), (["amx_bf16"], 0.5, True),
                                     (["amx_bf16", "avx512_bf16"], 0.5, True)):
        monkeypatch.setattr(loop, "_BF16_FASTER", None)
        monkeypatch.setattr(loop, "_cpu_flags", lambda flags=flags: flags)
        monkeypatch.setattr(loop, "_bf16_speedup", lambda s=speedup: timed.append(s) or s)
        assert loop.cpu_has_bf16() is expected
        assert loop.cpu_has_bf16() is expected          # decided once per process
    assert timed == [0.7, 2.5]


def test_the_r41_decoder_starts_from_its_head_and_the_published_r31_decoder(tiny_pack, tmp_path, monkeypatch):
    """A fresh decoder_r41 run with `init_head`: the head stage's checkpoint for dec4_1 …
    dec3_2, the authors' relu3_1 decoder for the rest, layer for layer."""
    from safetensors.numpy import save_file
    from core.training.stages import HEAD_R41, Stage

    head = {n: a for n, a in weights.random("decoder_r41").items() if n in HEAD_R41.params()}
    save_file(head, str(tmp_path / "decoder_head_r41.ckpt.safetensors"))
    cfg = {"kind": "decoder", "layer": "r41", "init_head": "decoder_head_r41", "pixel_weight": 1.0,
           "perceptual_weight": 0.01, "size": 48, "batch": 2, "iters": 1, "lr": 1e-5}
    monkeypatch.setitem(weights.REGISTRY, "decoder_r41", weights.Entry(None, ""))  # as before one ships
    stage = Stage("decoder_r41", cfg, tiny_pack, tmp_path, "cpu")
    start = {**head, **weights.load("decoder_r31")}
    assert {n: np.allclose(p.detach().numpy(), start[n]) for n, p in stage.dec.named().items()} \
        == {n: True for n in start}
