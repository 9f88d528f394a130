"""The training stages of the issue, in order: decoders, Linear modules, CCPL.

Each stage builds its trainable modules, a step function for `loop.run`, and on export
writes the shipped fp16 safetensors with the names the inference registry expects. A
stage starts from its checkpoint if there is one, else from the weights shipped in
models/, else fresh.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..nets import safetensors_file
from ..nets import weights as registry
from ..nets.architecture import DECODER_R41, ENCODER_WEIGHTS, ENCODERS, MODELS, Part
from . import data, loop
from .losses import (STYLE_LAYERS, ccp_loss, content_loss, move, move_consistency, perceptual_loss,
                     shift_consistency, style_loss)
from .modules import Encoder, LinearTransform, TableNet, decoder

# The relu4_1 decoder's first half: relu4_1 → relu3_1 (dec4_1, ×2 up, dec3_4..dec3_2 and
# their ReLUs); the rest of DECODER_R41 is the published relu3_1 decoder, layer for layer.
HEAD_R41 = Part(tuple(DECODER_R41[:9]))

LAYER_TAP = {"r31": "relu3_1", "r41": "relu4_1"}
SHIFT_MAX = 7  # px: moves below relu4_1's stride of 8, where a decoder's own grid shows
DRIFT_MAX, ZOOM_MAX = 4.0, 0.03  # `move = "similarity"`: up to 4 px and 3 %, at most 7 px at a 192-px crop's edge


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _checkpoint(out_dir: Path, stage: str, params) -> dict | None:
    """An earlier stage's checkpointed arrays named in `params`, or None without one."""
    ckpt = out_dir / f"{stage}.ckpt.safetensors"
    if not ckpt.exists():
        return None
    from safetensors.numpy import load_file
    arrays = load_file(str(ckpt))
    return {n: arrays[n] for n in params}


def _trained_or_checkpoint(key: str, out_dir: Path, stage: str) -> dict:
    """Weights of an earlier stage: its checkpoint if present here, else the shipped file."""
    return _checkpoint(out_dir, stage, MODELS[key].params()) or registry.load(key)


def first_conv(net) -> str:
    """Table name of a TableNet's first convolution."""
    return next(iter(net.convs)).replace("__", ".")


def _shipped(key: str) -> dict | None:
    """The weights committed in models/, if any: across sessions only the repository
    lasts, so a stage with no checkpoint here continues from what was shipped."""
    return registry.load(key) if registry.is_trained(key) else None


def shipped_step(stage: str, keys) -> int:
    """The step at which `stage` exported the shipped weights of `keys`, so that a run with
    no checkpoint here goes on counting (and down the learning-rate schedule) from there
    instead of starting over; 0 if any of them is not shipped or came from another stage."""
    steps = set()
    for key in keys:
        meta = (safetensors_file.metadata(registry.MODELS_DIR / MODELS[key].file)
                if registry.is_trained(key) else {})
        steps.add(int(meta["step"]) if meta.get("stage") == stage else 0)
    return min(steps, default=0)


def _to(module: nn.Module, device) -> nn.Module:
    return module.to(device, memory_format=torch.channels_last)


class Stage:
    """Everything one stage needs: modules, data, the step function, the export."""

    def __init__(self, name: str, cfg: dict, pack: Path, out_dir: Path, device: str):
        self.name, self.cfg, self.out_dir = name, cfg, out_dir
        self.device = _device(device)
        self.images = data.unpack(pack)
        self.vgg = registry.load("vgg19")
        self.layer = cfg.get("layer", "r41")
        self.exports: dict[str, nn.Module] = {}
        self.lr_scales: dict[str, float] = {}
        self.scale = self._input_scale()
        getattr(self, f"_build_{cfg['kind']}")()
        self.start_step = 0 if self._has_checkpoint() else shipped_step(name, self.exports)

    def _has_checkpoint(self) -> bool:
        return (self.out_dir / f"{self.name}.ckpt.safetensors").exists()

    def _input_scale(self, layer: str | None = None) -> torch.Tensor:
        """Per-channel divisor from the loss network's features to the transformation's.

        One VGG-19 pass serves both: the losses are taken on our raw VGG-19 (the judge
        `../shared/EVAL.md` uses), and the shipped normalised encoders' features are
        exactly those divided by one scale per channel.
        """
        layer = layer or self.layer
        convs = ENCODERS[layer].convs()
        m = registry.channel_scales(self.vgg, registry.load(ENCODER_WEIGHTS[layer]), convs)
        return torch.from_numpy(m[convs[-1]]).float().view(1, -1, 1, 1).to(self.device)

    def _trans_in(self, feats: dict) -> torch.Tensor:
        """The feature map the transformation and decoder see (the shipped encoder's)."""
        return feats[LAYER_TAP[self.layer]] / self.scale

    # --- stage builders ---------------------------------------------------------------
    def _build_decoder(self):
        """A decoder trained on pixels and perceptual loss; with `init_head`, a fresh one
        starts from that head stage's checkpoint chained with the published relu3_1
        decoder (the relu4_1 decoder without training a whole decoder from scratch)."""
        key = f"decoder_{self.layer}"
        self.enc = _to(Encoder(self.vgg, LAYER_TAP[self.layer]), self.device)
        init = _shipped(key)
        fresh = init is None and not self._has_checkpoint()
        if fresh and self.cfg.get("init_head"):
            head = _checkpoint(self.out_dir, self.cfg["init_head"], HEAD_R41.params())
            if head is None:
                raise SystemExit(f"{key}: train its head first: python scripts/train.py {self.cfg['init_head']}")
            init, fresh = {**head, **registry.load("decoder_r31")}, False
        self.dec = _to(decoder(key, init), self.device)
        self.exports = {key: self.dec}
        self.trainable = self.dec.named()
        self._reparametrise({f"{first_conv(self.dec)}.weight": -1}, fresh=fresh)
        self.bank = self._feature_bank(self.cfg.get("bank", 0))

    def _build_head(self):
        """The relu4_1 decoder's first half, trained in feature space: from the shipped
        relu4_1 features back to the published relu3_1 ones (no pixels, no loss network).

        The encoder is frozen, so its features for `bank` crops are computed once (and
        kept on disk for resumed runs); a step is then the small head alone, about 20×
        cheaper than encoding its batch afresh."""
        self.enc = _to(Encoder(self.vgg, "relu4_1"), self.device)
        self.target_scale = self._input_scale("r31")
        self.head = _to(TableNet(HEAD_R41), self.device)
        self.trainable = self.head.named()
        self._reparametrise({f"{first_conv(self.head)}.weight": -1}, fresh=not self._has_checkpoint())
        self.bank = self._feature_bank(self.cfg.get("bank", 0))

    def _feature_bank(self, n: int) -> dict | None:
        """For n seeded crops (photos and paintings, as a decoder batch mixes them), in
        float16: "in", the shipped encoder's features; a head's "out", the published
        relu3_1; a decoder's "img", the crop itself. None for n = 0."""
        if not n:
            return None
        kind = self.cfg["kind"]
        path = self.out_dir / f"{self.name}.{kind}-bank{n}-{self.cfg['size']}.safetensors"
        if path.exists():
            from safetensors.torch import load_file
            return load_file(str(path))
        g = torch.Generator().manual_seed(12345)
        parts: dict[str, list] = {"in": [], "out" if kind == "head" else "img": []}
        with torch.no_grad(), loop.autocast(self.device):
            for _ in range(0, n, self.cfg["batch"]):
                x = self._decoder_batch(g)
                f = self.enc(x)
                parts["in"].append(self._trans_in(f).float().half().cpu())
                if kind == "head":
                    parts["out"].append((f["relu3_1"] / self.target_scale).float().half().cpu())
                else:
                    parts["img"].append(x.float().half().cpu())
        bank = {k: torch.cat(v)[:n].contiguous() for k, v in parts.items()}
        loop.write_safetensors(path, bank)
        return bank

    def _reparametrise(self, powers: dict[str, int], fresh: bool):
        """Train the layers that touch raw VGG features as if those were unit-scale.

        The Caffe-scale VGG features are in the hundreds (the papers use a rescaled
        "normalised" VGG). A parameter that multiplies them (power −1) or produces
        them (power +1) is trained as w = u · rms^power with u at the usual scale: a
        fresh one starts scaled, and its learning rate is scaled the same way (Adam's
        step is in parameter units), which is exactly training u. Nothing changes at
        inference. The per-parameter factors go to `loop.run` as `lr_scales`.
        """
        g = torch.Generator().manual_seed(0)
        x = data.batch(self.images["content"], 8, self.cfg["size"], g, self.device)
        with torch.no_grad():
            rms = float(self._trans_in(self.enc(x)).float().pow(2).mean().sqrt())
        scales = {name: rms ** p for name, p in powers.items()}
        self.lr_scales.update(scales)
        if fresh:
            with torch.no_grad():
                for name, factor in scales.items():
                    self.trainable[name].mul_(factor)

    def _content_style(self, g):
        """Content and style crops. With `shift_weight` the batch's second half repeats the
        first half's pairs with each photo moved, for the consistency term; returns that
        term as a function of the paintings. The move is 1 to SHIFT_MAX whole pixels down
        and right, or with `move = "similarity"` a sub-pixel drift of up to DRIFT_MAX px in
        any direction and a zoom of up to ZOOM_MAX either way. The style crops come once:
        both halves share them, so they are encoded once (`_stylize_losses` repeats their
        features)."""
        c = self.cfg
        shift = c.get("shift_weight", 0) > 0
        similarity = c.get("move", "shift") == "similarity"
        pad = 2 * (SHIFT_MAX + 1) if similarity else SHIFT_MAX
        n, size = (c["batch"] // 2, c["size"] + pad) if shift else (c["batch"], c["size"])
        cb = data.batch(self.images["content"], n, size, g, self.device, min_frac=0.4)
        sb = data.batch(self.images["style"], n, c["size"], g, self.device,
                        min_frac=c.get("style_min_frac", 0.25), jitter=c.get("jitter", 0.0))
        if not shift:
            return cb, sb, None
        s = c["size"]
        if similarity:
            u = torch.rand(3, generator=g) * 2 - 1
            zoom, ty, tx = 1 + ZOOM_MAX * float(u[0]), DRIFT_MAX * float(u[1]), DRIFT_MAX * float(u[2])
            o = pad // 2
            moved = move(cb, s, zoom, ty, tx).clamp(0, 1)
            cb = torch.cat([cb[:, :, o:o + s, o:o + s], moved])
            consistency = lambda y: move_consistency(y, zoom, ty, tx)  # noqa: E731
        else:
            dy, dx = (int(v) for v in torch.randint(1, SHIFT_MAX + 1, (2,), generator=g))
            cb = torch.cat([cb[:, :, :s, :s], cb[:, :, dy:dy + s, dx:dx + s]])
            consistency = lambda y: shift_consistency(y, dy, dx)  # noqa: E731
        return cb.contiguous(memory_format=torch.channels_last), sb, consistency

    def _build_linear(self):
        """Linear's transformation (or CCPL's, the same module under the CCP loss),
        trained with the encoder and decoder frozen. `init` starts a fresh stage from
        another stage's weights (CCPL from Linear)."""
        key = self.cfg.get("model", f"linear_{self.layer}")
        self.enc = _to(Encoder(self.vgg), self.device)
        self._build_stylize_decoder()
        init = _shipped(key)
        fresh = init is None and not self._has_checkpoint()
        if fresh and self.cfg.get("init"):
            init = _trained_or_checkpoint(self.cfg["init"], self.out_dir, self.cfg["init"])
            fresh = False
        self.trans = _to(LinearTransform(key, init), self.device)
        self.exports[key] = self.trans
        self.trainable.update(self.trans.named())
        self._reparametrise({"cnet.conv1.weight": -1, "snet.conv1.weight": -1, "compress.weight": -1,
                             "unzip.weight": 1, "unzip.bias": 1}, fresh=fresh)
        self._ccp_heads()

    def _build_stylize_decoder(self):
        """The decoder a stylizing stage draws with: the layer's shared one, frozen (Linear's
        recipe), or with `decoder = KEY` a decoder of its own trained with the transform
        under the same losses (CCPL's recipe: Wu et al. train SCT and decoder together),
        starting from `init_decoder`'s weights and exported as KEY."""
        shared = f"decoder_{self.layer}"
        key = self.cfg.get("decoder", shared)
        self.exports, self.trainable = {}, {}
        if key == shared:
            self.dec = _to(decoder(shared, _trained_or_checkpoint(shared, self.out_dir, shared)),
                           self.device).requires_grad_(False)
            return
        init = _shipped(key)
        if init is None:
            start = self.cfg.get("init_decoder", shared)
            init = _trained_or_checkpoint(start, self.out_dir, start)
        self.dec = _to(decoder(key, init), self.device)
        self.exports[key] = self.dec
        self.trainable.update({f"decoder.{n}": p for n, p in self.dec.named().items()})
        # its first convolution reads the encoder's features: trained at their scale, as the
        # decoder stage trains it
        self._reparametrise({f"decoder.{first_conv(self.dec)}.weight": -1}, fresh=False)

    def _ccp_heads(self):
        """CCPL's projection MLPs (one per CCP layer); trained, never shipped."""
        self.heads = nn.ModuleDict()
        if self.cfg.get("ccp_weight", 0) > 0:
            for tap, c in (("relu3_1", 256), ("relu4_1", 512)):
                self.heads[tap] = nn.Sequential(nn.Linear(c, c), nn.ReLU(), nn.Linear(c, c // 2))
            self.heads.to(self.device)
            for n, p in self.heads.named_parameters():
                self.trainable[f"head.{n}"] = p

    # --- step functions ---------------------------------------------------------------
    def step(self, g: torch.Generator, it: int) -> dict:
        return getattr(self, f"_step_{self.cfg['kind']}")(g)

    def _step_head(self, g):
        if self.bank is None:
            with torch.no_grad():
                f = self.enc(self._decoder_batch(g))
            x, target = self._trans_in(f), f["relu3_1"] / self.target_scale
        else:
            pick = torch.randint(0, len(self.bank["in"]), (self.cfg["batch"],), generator=g)
            x, target = (self.bank[k][pick].to(self.device).float() for k in ("in", "out"))
        y = self.head(x.contiguous(memory_format=torch.channels_last))
        mse = ((y.float() - target) ** 2).mean()
        return {"loss": mse / target.pow(2).mean(), "feature_mse": mse}

    def _decoder_batch(self, g) -> torch.Tensor:
        """Photos, and paintings for `style_share` of the batch: a decoder must draw strokes."""
        c = self.cfg
        x = data.batch(self.images["content"], c["batch"], c["size"], g, self.device, min_frac=0.4)
        if c.get("style_share", 0) > 0:
            n = int(round(c["batch"] * c["style_share"]))
            x[:n] = data.batch(self.images["style"], n, c["size"], g, self.device, min_frac=0.25,
                               jitter=c.get("jitter", 0.0))
        return x

    def _step_decoder(self, g):
        """Pixels and, with a perceptual weight, VGG features of the picture. From a bank
        and without the perceptual term, a step runs no VGG at all."""
        c = self.cfg
        if self.bank is None:
            x = self._decoder_batch(g)
            with torch.no_grad():
                target = self.enc(x)
            feats = self._trans_in(target)
        else:
            pick = torch.randint(0, len(self.bank["in"]), (c["batch"],), generator=g)
            feats, x = (self.bank[k][pick].to(self.device).float().contiguous(memory_format=torch.channels_last)
                        for k in ("in", "img"))
        y = self.dec(feats)
        pixel = ((y.float() - x) ** 2).flatten(1).mean(1)
        out = {"pixel_mse": pixel.mean()}
        loss = c["pixel_weight"] * pixel.mean()
        if c.get("perceptual_weight", 0) > 0:
            if self.bank is not None:
                with torch.no_grad():
                    target = self.enc(x)
            perc = perceptual_loss(self.enc(y), target)
            out["perceptual"] = perc.mean()
            loss = loss + c["perceptual_weight"] * perc.mean()
        out["loss"] = loss
        return out

    def _stylize_losses(self, g, feats_fn):
        c = self.cfg
        cb, sb, consistency = self._content_style(g)
        with torch.no_grad():
            cf, sf = self.enc(cb), self.enc(sb)
        if consistency:
            sf = {k: torch.cat([v, v]) for k, v in sf.items()}
        t = feats_fn(cf, sf)
        y = self.dec(t)
        of = self.enc(y)
        lc = content_loss(of["relu4_1"], cf["relu4_1"]).mean()
        ls = style_loss(of, sf, STYLE_LAYERS).mean()
        out = {"content": lc, "style": ls}
        loss = c["content_weight"] * lc + c["style_weight"] * ls
        if self.heads:
            lccp = sum(ccp_loss(of[k], cf[k], self.heads[k], generator=g).mean() for k in self.heads)
            out["ccp"] = lccp
            loss = loss + c["ccp_weight"] * lccp
        if consistency:
            lshift = consistency(y)
            out["shift"] = lshift
            loss = loss + c["shift_weight"] * lshift
        out["loss"] = loss
        return out

    def _step_linear(self, g):
        return self._stylize_losses(g, lambda cf, sf: self.trans(self._trans_in(cf), self._trans_in(sf)))

    def export(self, models_dir: Path, provenance: dict) -> dict[str, str]:
        return export(self.exports, models_dir, provenance)


def export(modules: dict[str, nn.Module], models_dir: Path, provenance: dict) -> dict[str, str]:
    """Writes each model (registry key → module) as fp16 safetensors; returns file → sha256."""
    written = {}
    for key, module in modules.items():
        named = module.named()
        expected = MODELS[key].params()
        assert set(named) == set(expected), (key, set(named) ^ set(expected))
        # contiguous: a channels_last tensor's numpy view keeps its strides, and the
        # file must hold the logical (out, in, kh, kw) order
        arrays = {n: np.ascontiguousarray(named[n].detach().float().cpu().numpy(), np.float16)
                  for n in sorted(named)}
        path = models_dir / MODELS[key].file
        loop.write_safetensors(path, arrays, {k: str(v) for k, v in provenance.items()}, mode=0o644)
        written[path.name] = registry.sha256_of(path)
    return written


def load_into_stage(stage: Stage) -> int:
    """Loads the stage's last checkpoint into its modules (for export); returns its step."""
    ckpt = stage.out_dir / f"{stage.name}.ckpt.safetensors"
    return loop.load_checkpoint(ckpt, stage.trainable, None)
