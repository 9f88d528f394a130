"""Brushwork's quality protocol (`../shared/EVAL.md`) as a library.

Two judges (our VGG-19 encoder and an independent torchvision VGG-16), the style ratio
and content loss they give, the validation split at the protocol's size, one runner per
method and baseline, decoder reconstruction PSNR, a temporal warp error on a synthetic
sequence whose motion is known exactly, and a contact sheet — because numbers do not
see checkerboards, halos or colour casts. The losses are `losses.py`'s, so the number
training minimises is the number reported here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from ..nets import weights
from ..nets.architecture import ENCODER_WEIGHTS, Net, Part
from ..errors import BrushworkError
from ..engine.methods import METHODS, channel_moments
from .data import validation_names
from .losses import content_loss, psnr, style_loss
from .modules import TAPS, Encoder, TableNet

SHARED = Path(__file__).resolve().parents[3] / "shared"
SHORT_SIDE = 320
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DECODERS = ("decoder_r31", "decoder_r41")


# --- judges -------------------------------------------------------------------------------

def _vgg16_table() -> Part:
    """torchvision's VGG-16 features up to relu4_1, zero padding 1."""
    layers, cin = [], 3
    spec = [[64, 64], [128, 128], [256, 256, 256], [512]]
    for block, widths in enumerate(spec, 1):
        if block > 1:
            layers.append(("pool",))
        for i, cout in enumerate(widths, 1):
            layers += [("conv", f"conv{block}_{i}", cin, cout, 3, "zero"), ("relu",)]
            cin = cout
    return Part(tuple(layers))


VGG16_R41 = _vgg16_table()


class VGG16Judge(nn.Module):
    """The independent judge: torchvision's VGG-16 (ImageNet mean/std input, zero padding).

    Built on the training `TableNet`, whose max-pool uses ceil_mode; torchvision floors,
    and the two agree on the protocol's sizes (multiples of 8). `weights=None` gives a
    randomly initialised judge of the same architecture (tests)."""

    def __init__(self, weights_: dict | None = None):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.net = TableNet(VGG16_R41, weights_)
        self.requires_grad_(False).eval()

    def forward(self, rgb) -> dict[str, torch.Tensor]:
        taps: dict = {}
        self.net((rgb - self.mean) / self.std, taps)
        return {k: taps[k] for k in TAPS}


def vgg16_judge(path: Path, sha256: str, command: str) -> VGG16Judge:
    """The VGG-16 judge from its cache file, refused unless its hash matches."""
    from safetensors.numpy import load_file

    if not Path(path).is_file():
        raise BrushworkError(f"{path}: VGG-16 judge missing; produce it with `{command}`")
    actual = weights.sha256_of(Path(path))
    if actual != sha256:
        raise BrushworkError(f"{path}: sha256 {actual[:12]}… is not {sha256[:12]}…; re-create it with `{command}`")
    return VGG16Judge(load_file(str(path)))


def vgg19_judge() -> Encoder:
    """The network we train against (Caffe VGG-19, reflection padding, ceil-mode pools)."""
    return Encoder(weights.load("vgg19"))


# --- metrics ------------------------------------------------------------------------------

def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float in [0, 1] → (1, 3, H, W) float32."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))[None]


def to_image(t: torch.Tensor) -> np.ndarray:
    return t.detach()[0].permute(1, 2, 0).clamp(0, 1).numpy().copy()


@torch.no_grad()
def features(judge, img) -> dict:
    """A judge's taps of an image; a dict of taps passes through (computed once, reused)."""
    return img if isinstance(img, dict) else judge(to_tensor(img))


def metrics(judge, output, content, style) -> dict[str, float]:
    """EVAL.md's two numbers: style ratio L_s(out, style)/L_s(content, style) and the
    content loss at relu4_1. Each argument is an image or its taps from `features`."""
    o, c, s = (features(judge, x) for x in (output, content, style))
    ratio = style_loss(o, s) / style_loss(c, s).clamp_min(1e-12)
    return {"style_ratio": float(ratio[0]), "content": float(content_loss(o["relu4_1"], c["relu4_1"])[0])}


# --- the validation split -----------------------------------------------------------------

def protocol_size(width: int, height: int, short: int = SHORT_SIDE) -> tuple[int, int]:
    """(width, height) with the short side at `short`, both rounded down to a multiple of 8."""
    s = short / min(width, height)
    return int(round(width * s)) // 8 * 8, int(round(height * s)) // 8 * 8


def load_image(path: Path, short: int = SHORT_SIDE) -> np.ndarray:
    """An image at the protocol's size (LANCZOS), (H, W, 3) float32 in [0, 1]."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        size = protocol_size(*im.size, short)
        if size != im.size:
            im = im.resize(size, Image.LANCZOS)
        return np.asarray(im, np.float32) / 255


def validation_split(data: Path = SHARED / "data") -> tuple[dict, dict]:
    """({content name: image}, {style name: image}) in VALIDATION.md's order."""
    names = validation_names(data / "VALIDATION.md")
    return ({n: load_image(data / "content" / n) for n in names["content"]},
            {n: load_image(data / "style" / n) for n in names["style"]})


SHEET_STYLES = 6
SHEET_CONTENTS = (0, 5, 11)  # a portrait, a city, a landscape


def pair_order(contents: list[str], styles: list[str]) -> list[tuple[str, str]]:
    """All pairs, the contact sheet's first (style-major), then the rest content-major,
    so that a quick `--pairs N` run still fills the top of the sheet."""
    sheet = [(contents[c], s) for s in styles[:SHEET_STYLES] for c in SHEET_CONTENTS if c < len(contents)]
    return sheet + [(c, s) for c in contents for s in styles if (c, s) not in sheet]


# --- runners: (content, style) → output, all (H, W, 3) in [0, 1] ----------------------------

@dataclass
class Runner:
    name: str
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
    untrained: bool = False
    limit: int | None = None  # evaluated on the first `limit` pairs only (slow baselines)


def stylizer_runner(name: str, allow_untrained: bool = False) -> Runner:
    """A shipped method through the engine, whole image at once (tile=0). The engine
    caches each style's side, so s/image pays for a style's encoding once, as in use."""
    from ..engine.stylizer import Settings, Stylizer

    st = Stylizer(name, device="cpu", allow_untrained=allow_untrained)

    def run(content, style):
        return np.clip(st.run(content, [st.style(style)], Settings(tile=0)), 0, 1)
    return Runner(name, run, bool(st.untrained))


LEARNED = "ccpl-r31-learned"


def learned_runner(folder: Path, styles: dict[str, np.ndarray], files: dict[str, Path] | None = None) -> Runner:
    """ccpl-r31 with each painting's learned weights from `folder` (a `brushwork learn`
    cache, core/nets/learned.py; stale or missing files are an error here, not a silent
    fall-back): what an artist runs after learning the painting. `styles`: the split's
    paintings by name, to know which painting a style array is; `files`: their files
    (default: the split's, ../shared/data/style/)."""
    import os
    from ..engine.stylizer import Settings, Stylizer
    from ..nets import learned

    names = {hash(a.tobytes()): n for n, a in styles.items()}
    stylizers: dict[str, Stylizer] = {}

    def stylizer(name: str) -> Stylizer:
        if name not in stylizers:
            before = os.environ.get("BRUSHWORK_LEARNED")
            os.environ["BRUSHWORK_LEARNED"] = str(folder)
            try:
                file = (files or {}).get(name, SHARED / "data" / "style" / name)
                tuned = learned.lookup(str(file), learned.METHOD)
            finally:
                if before is None:
                    os.environ.pop("BRUSHWORK_LEARNED")
                else:
                    os.environ["BRUSHWORK_LEARNED"] = before
            if tuned is None:
                raise BrushworkError(f"{folder}: no learned ccpl-r31 weights for {name} that fit the "
                                     f"installed model (brushwork learn {name})")
            stylizers[name] = Stylizer(learned.METHOD, device="cpu", learned=tuned)
        return stylizers[name]

    def run(content, style):
        st = stylizer(names[hash(style.tobytes())])
        return np.clip(st.run(content, [st.style(style)], Settings(tile=0)), 0, 1)
    return Runner(LEARNED, run)


def adain(fc: np.ndarray, fs: np.ndarray) -> np.ndarray:
    """Huang & Belongie's AdaIN: content features with the style's channel mean and std."""
    mc, sc = channel_moments(fc)
    ms, ss = channel_moments(fs)
    return ((fc - mc) / sc * ss + ms).astype(np.float32)


def _backend(key: str, allow_untrained: bool):
    from ..backends.torch.backend import TorchBackend

    dec, trained = weights.resolve(key, allow_untrained=allow_untrained)
    enc = ENCODER_WEIGHTS[key[-3:]]
    return TorchBackend({enc: weights.load(enc), key: dec}, "cpu"), trained


def adain_runner(layer: str, allow_untrained: bool = False) -> Runner:
    """Baseline: AdaIN at relu3_1/relu4_1 decoded by our trained decoder of that layer —
    what the learned transforms must beat to be worth their parameters."""
    key = f"decoder_{layer}"
    backend, trained = _backend(key, allow_untrained)

    def run(content, style):
        fc, fs = (backend.run(Net.encoder(layer), x) for x in (content, style))
        return np.clip(backend.run(Net.of(key, "decoder"), adain(fc, fs)), 0, 1)
    return Runner(f"adain-{layer}", run, not trained)


GATYS_STYLE_WEIGHT = 10.0


def gatys(encoder: Encoder, content: np.ndarray, style: np.ndarray, steps: int = 200,
          style_weight: float = GATYS_STYLE_WEIGHT) -> np.ndarray:
    """Optimisation baseline (Gatys et al. 2016 with EVAL.md's losses): L-BFGS on the
    pixels from the content image, content loss at relu4_1 + weighted style loss."""
    c, s = to_tensor(content), to_tensor(style)
    with torch.no_grad():
        cf, sf = encoder(c), encoder(s)
    x = c.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], max_iter=steps, history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        f = encoder(x)
        loss = content_loss(f["relu4_1"], cf["relu4_1"]).sum() + style_weight * style_loss(f, sf).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return to_image(x)


def gatys_runner(pairs: int, steps: int = 200) -> Runner:
    encoder = vgg19_judge()
    return Runner("gatys", lambda c, s: gatys(encoder, c, s, steps), limit=pairs)


def stage_runner(stage) -> Runner:
    """A training stage's modules as they stand (whole image, fp32): how a checkpoint
    paints before it is exported, so the best one can be picked on the validation split."""
    @torch.no_grad()
    def run(content, style):
        cf, sf = (stage._trans_in(stage.enc(to_tensor(x))) for x in (content, style))
        return to_image(stage.dec(stage.trans(cf, sf)))
    return Runner(stage.name, run)


def stage_decoder(stage):
    """photo → the stage's decoder (or head + the published relu3_1 decoder) → picture:
    a decoder stage's round trip, as `decoder_psnr` measures the shipped ones."""
    from .modules import decoder
    if stage.cfg["kind"] == "head":
        tail = decoder("decoder_r31", weights.load("decoder_r31")).to(stage.device).eval()
        net = lambda f: tail(stage.head(f))  # noqa: E731
    else:
        net = stage.dec

    @torch.no_grad()
    def run(photo: np.ndarray) -> torch.Tensor:
        return net(stage._trans_in(stage.enc(to_tensor(photo).to(stage.device)))).float().cpu()
    return run


def identity_runner() -> Runner:
    """The content image itself: style ratio 1 and content loss 0 by definition."""
    return Runner("content", lambda c, s: c)


def available(allow_untrained: bool = False) -> list[str]:
    """Methods and baselines that can run: trained ones, or all with random weights."""
    ok = lambda keys: allow_untrained or all(weights.is_trained(k) for k in keys)  # noqa: E731
    names = [n for n, m in METHODS.items() if ok(m.models)]
    names += [f"adain-{layer}" for layer in ("r31", "r41") if ok([f"decoder_{layer}"])]
    return names + ["gatys"]


def make_runner(name: str, *, allow_untrained: bool = False, gatys_pairs: int = 4,
                gatys_steps: int = 200) -> Runner:
    if name in METHODS:
        return stylizer_runner(name, allow_untrained)
    if name in ("adain-r31", "adain-r41"):
        return adain_runner(name[-3:], allow_untrained)
    if name == "gatys":
        return gatys_runner(gatys_pairs, gatys_steps)
    if name == "content":
        return identity_runner()
    raise BrushworkError(f"unknown method {name!r}; choose from {', '.join(available(True))}")


# --- the evaluation loop ------------------------------------------------------------------

@dataclass
class Results:
    rows: list[dict] = field(default_factory=list)        # one per (pair, method)
    thumbs: dict = field(default_factory=dict)            # (content, style, method) → PIL image

    def summary(self, methods: list[str], pairs: set | None = None) -> dict[str, dict]:
        """Per method: mean of each metric and of the seconds, over its (or the given) pairs."""
        out = {}
        for m in methods:
            rows = [r for r in self.rows if r["method"] == m
                    and (pairs is None or (r["content"], r["style"]) in pairs)]
            if rows:
                keys = [k for k in rows[0] if k not in ("method", "content", "style")]
                out[m] = {k: float(np.mean([r[k] for r in rows])) for k in keys} | {"pairs": len(rows)}
        return out


def evaluate(runners: list[Runner], judges: dict, contents: dict, styles: dict,
             pairs: list[tuple[str, str]], sheet: set, log=print) -> Results:
    """Every runner on every pair (up to its limit), measured by every judge."""
    res = Results()
    for i, (cn, sn) in enumerate(pairs):
        log(f"pair {i + 1}/{len(pairs)}: {cn} × {sn}")
        c, s = contents[cn], styles[sn]
        ref = {j: (features(judge, c), features(judge, s)) for j, judge in judges.items()}
        if (cn, sn) in sheet:
            res.thumbs.update({(cn, sn, "content"): thumbnail(c), (cn, sn, "style"): thumbnail(s)})
        for r in runners:
            if r.limit is not None and i >= r.limit:
                continue
            t0 = time.perf_counter()
            out = r.fn(c, s)
            row = {"method": r.name, "content": cn, "style": sn, "seconds": time.perf_counter() - t0}
            for j, judge in judges.items():
                for k, v in metrics(judge, out, *ref[j]).items():
                    row[f"{j}_{k}"] = v
            res.rows.append(row)
            if (cn, sn) in sheet and r.name != "content":
                res.thumbs[(cn, sn, r.name)] = thumbnail(out)
    return res


# --- decoder reconstruction -----------------------------------------------------------------

def decoder_psnr(key: str, photos: list[np.ndarray], allow_untrained: bool = False) -> float:
    """Mean PSNR (dB) of photo → encoder at the decoder's layer → decoder, in [0, 1]:
    the ceiling every method using this decoder is held under."""
    backend, _ = _backend(key, allow_untrained)
    layer = key[-3:]
    values = [psnr(to_tensor(backend.run(Net.of(key, "decoder"), backend.run(Net.encoder(layer), p))),
                   to_tensor(p)) for p in photos]
    return float(torch.cat(values).mean())


# --- temporal warp error --------------------------------------------------------------------

def _h(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0, 0, 1]])


def motion_sequence(photo: np.ndarray, frames: int = 8, shift=(1.5, 0.75), zoom: float = 0.01,
                    margin: int = 32) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of `photo` drifting by `shift` px and zooming in by `zoom` per frame.

    Returns the frames and, per frame, the exact 2×3 map frame pixel → photo pixel, so
    the true motion between any two frames is known. Frame sides are multiples of 8."""
    ph, pw = photo.shape[:2]
    h, w = (ph - 2 * margin) // 8 * 8, (pw - 2 * margin) // 8 * 8
    out, maps = [], []
    for t in range(frames):
        z = 1 + zoom * t
        # p ↦ photo centre + drift + (p − frame centre) / z
        ox, oy = pw / 2 + shift[0] * t - w / 2 / z, ph / 2 + shift[1] * t - h / 2 / z
        m = np.array([[1 / z, 0, ox], [0, 1 / z, oy]])
        maps.append(m)
        out.append(cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REFLECT))
    return [np.clip(f, 0, 1) for f in out], maps


def warp(frame: np.ndarray, src_map: np.ndarray, dst_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`frame` (seen through src_map) resampled into the view of dst_map, and the mask of
    pixels that both views see. Lanczos, so that resampling alone adds little error
    (on a photo, about 0.9/255 against 2.3/255 for bilinear)."""
    m = (np.linalg.inv(_h(src_map)) @ _h(dst_map))[:2]  # dst pixel → src pixel
    h, w = frame.shape[:2]
    warped = cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    ys, xs = np.mgrid[0:h, 0:w]
    qx, qy = m[0, 0] * xs + m[0, 1] * ys + m[0, 2], m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    # Lanczos-4 reads floor(q) − 3 … floor(q) + 4: all of them must lie inside the source.
    valid = (qx >= 3) & (qx < w - 4) & (qy >= 3) & (qy < h - 4)
    return warped, valid


def warp_error(frames: list[np.ndarray], maps: list[np.ndarray]) -> float:
    """EVAL.md's temporal metric: mean |frame t − warped frame t−1| in 0–255 units over
    the pixels valid in both, averaged over the sequence."""
    errs = []
    for t in range(1, len(frames)):
        warped, valid = warp(frames[t - 1], maps[t - 1], maps[t])
        errs.append(float(np.abs(frames[t] - warped)[valid].mean()) * 255)
    return float(np.mean(errs))


# --- contact sheet --------------------------------------------------------------------------

CELL = (176, 120)  # width, height of one picture in the sheet
CAPTION = 14


def thumbnail(rgb: np.ndarray) -> Image.Image:
    im = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    im.thumbnail(CELL, Image.LANCZOS)
    return im


def contact_sheet(rows: list[tuple[str, str]], columns: list[str], thumbs: dict, path: Path,
                  titles: dict | None = None) -> None:
    """One row per (content, style): the content, the style, then each method's output;
    a missing output (a method not run on that pair) is left blank. `titles` renames
    column headers (e.g. to mark untrained weights)."""
    cw, ch = CELL[0] + 4, CELL[1] + CAPTION + 4
    sheet = Image.new("RGB", (cw * len(columns), CAPTION + 4 + ch * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for x, name in enumerate(columns):
        draw.text((x * cw + 4, 2), (titles or {}).get(name, name), fill="black")
    for y, (cn, sn) in enumerate(rows):
        top = CAPTION + 4 + y * ch
        for x, col in enumerate(columns):
            im = thumbs.get((cn, sn, col))
            if im is None:
                continue
            sheet.paste(im, (x * cw + 2 + (CELL[0] - im.width) // 2, top + (CELL[1] - im.height) // 2))
            label = {"content": Path(cn).stem, "style": Path(sn).stem}.get(col)
            if label:
                draw.text((x * cw + 4, top + CELL[1] + 1), label[:28], fill="black")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
