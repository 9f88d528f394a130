"""The methods as global statistics + a per-position feature transform.

Linear (Li et al. 2019; CCPL, Wu et al. 2022, is the same module trained with a
contrastive loss, so it runs as Linear) and the closed-form WCT baseline
(whitening–colouring, Li et al. 2017) both compute *global* content statistics. Here
those statistics are taken once over the whole feature map (sums add up exactly across
tiles), the style side once per style, and what is left per tile is one affine map of
each feature vector on its own — which is why tiles cannot shift colour. numpy only;
networks run through a backend's `run`.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..engine import tiling
from ..mem.arrays import channel_sums, float32, float64_rows, like, to_host
from ..mem.buffers import bands, release
from ..nets.architecture import ENCODER_WEIGHTS, ENCODERS, MATRIX, WRAPS, Net

EPS = 1e-5  # added to the variance in `channel_moments`, as AdaIN's statistics do


@dataclass(frozen=True)
class Method:
    name: str
    kind: str              # "linear" | "wct"
    layer: str             # "r31" | "r41"
    transform: str | None  # model key of the transformation module (WCT has none)
    decoder: str           # model key of the decoder

    @property
    def encoder(self):
        return ENCODERS[self.layer]

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(k for k in (ENCODER_WEIGHTS[self.layer], self.transform, self.decoder) if k)

    @property
    def trained(self) -> bool:
        """Whether all its weight files ship (a front end offers it; the default picks it)."""
        from ..nets import weights
        return all(weights.is_trained(k) for k in self.models)

    @property
    def stride(self) -> int:
        return int(self.encoder.stride)


METHODS = {
    "linear-r41": Method("linear-r41", "linear", "r41", "linear_r41", "linear_decoder_r41"),
    "linear-r31": Method("linear-r31", "linear", "r31", "linear_r31", "decoder_r31"),
    # CCPL: Linear's module trained with CCPL's loss, so it runs as Linear does, with the
    # decoder trained beside it, as Wu et al. train theirs.
    "ccpl": Method("ccpl", "linear", "r41", "ccpl_r41", "ccpl_decoder_r41"),
    "ccpl-r31": Method("ccpl-r31", "linear", "r31", "ccpl_r31", "ccpl_decoder_r31"),
    # Training-free baseline on the same decoders: what the learned modules add.
    "wct": Method("wct", "wct", "r41", None, "decoder_r41"),
    "wct-r31": Method("wct-r31", "wct", "r31", None, "decoder_r31"),
}
# The default when none is asked for: the first of these whose weights are all trained,
# in order of measured quality (docs/eval.json, 96 validation pairs, VGG-19 / VGG-16):
# ccpl-r31 on its own decoder transfers the most style (0.173 / 0.320 against wct-r31's
# 0.241 / 0.363 and linear-r31's 0.264 / 0.414) and flickers about as little as wct-r31
# (warp error 8.62 against 8.39; linear-r31 12.62). The relu4_1 methods follow the relu3_1 ones:
# their decoder reconstructs at 24.0 dB (relu3_1: 27.1), so their bolder strokes are an
# artist's choice, not the default; ccpl measures best of them (0.181 / 0.326: a
# little less style than ccpl-r31, at more content loss than MicroAST's on VGG-16 and warp error 10.56).
PREFERENCE = ("ccpl-r31", "wct-r31", "linear-r31", "ccpl", "linear-r41", "wct")
WCT_EPS = 1e-5  # eigenvalues below this fraction of the largest are treated as zero


@dataclass
class StyleSide:
    """What a style contributes: its matrix (Linear: 32×32; WCT: the C×C colouring
    matrix, the covariance's square root) and its feature mean."""
    matrix: np.ndarray
    mean: np.ndarray


def _dense(w: dict, name: str, x: np.ndarray) -> np.ndarray:
    return w[f"{name}.weight"] @ x + w[f"{name}.bias"]


def _gram(x):
    """Sum of outer products over positions, float64 so tile sums stay exact (on the
    array's own side: a device's sums are fetched once, at the end)."""
    flat = float64_rows(x)
    return flat.T @ flat


def _add(total, x):
    return x if total is None else total + x


def style_side(method: Method, backend, weights: dict, rgb: np.ndarray) -> StyleSide:
    """Encode a style image (H, W, 3) once and reduce it to its matrix and mean."""
    feats = backend.run(Net.encoder(method.layer), rgb)
    mean = feats.reshape(-1, feats.shape[-1]).mean(0)
    if method.kind == "wct":
        cov = channel_covariance(feats, mean.astype(np.float64))
        return StyleSide(_matrix_power(cov, 0.5), mean.astype(np.float64))
    s = backend.run(Net.of(method.transform, "snet"), feats - mean)
    gram = _gram(s) / (s.shape[0] * s.shape[1])
    matrix = _dense(weights[method.transform], "snet.fc", gram.reshape(-1)).reshape(MATRIX, MATRIX)
    return StyleSide(matrix.astype(np.float64), mean.astype(np.float64))


def _row_bands(feats: np.ndarray):
    """Row bands of about 32 MB in float64, however wide the map (a 16K image's is 4096)."""
    h, w, c = feats.shape
    return bands(h, w * c * 8)


def _sums(maps: list, squares: bool = True) -> tuple[int, np.ndarray, np.ndarray | None]:
    """(positions, Σf, Σf² or None) per channel over (H, W, C) maps, read in row bands:
    sums add up exactly across tiles, and across images as well."""
    n, s1, s2 = 0, None, None
    for feats in maps:
        for a, b in _row_bands(feats):
            if squares:
                band = float64_rows(feats[a:b])
                s1, s2 = _add(s1, band.sum(0)), _add(s2, (band * band).sum(0))
            else:
                s1 = _add(s1, channel_sums(feats[a:b]))
            release(feats)
        n += feats.shape[0] * feats.shape[1]
    return n, to_host(s1), None if s2 is None else to_host(s2)


def channel_mean(feats) -> np.ndarray:
    """Per-channel mean of an (H, W, C) array or of a list of them, side by side: what
    the transforms centre on (a quarter of the time of `channel_moments`)."""
    n, s1, _ = _sums(feats if isinstance(feats, list) else [feats], squares=False)
    return s1 / n


def channel_moments(feats) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and unbiased std of an (H, W, C) array, or pooled over a list of
    them (the statistics of the maps side by side)."""
    n, s1, s2 = _sums(feats if isinstance(feats, list) else [feats])
    mean = s1 / n
    var = np.maximum(s2 - n * mean * mean, 0) / max(n - 1, 1)
    return mean, np.sqrt(var + EPS)


def channel_covariance(feats, mean: np.ndarray) -> np.ndarray:
    """(C, C) covariance around `mean` of an (H, W, C) array or of a list of them, summed
    in row bands (a Gram adds up exactly, so a memory-mapped map is read once)."""
    gram, n = None, 0
    for f in feats if isinstance(feats, list) else [feats]:
        for a, b in _row_bands(f):
            gram = _add(gram, _gram(f[a:b]))
            release(f)
        n += f.shape[0] * f.shape[1]
    gram = to_host(gram)
    return (gram - n * np.outer(mean, mean)) / max(n - 1, 1)


def _matrix_power(cov: np.ndarray, p: float) -> np.ndarray:
    """cov^p for a symmetric PSD matrix; directions with (near-)zero variance are dropped,
    as in WCT, so whitening does not blow up noise."""
    vals, vecs = np.linalg.eigh(cov)
    keep = vals > WCT_EPS * max(vals.max(), 1e-12)
    v, e = vecs[:, keep], vals[keep]
    return (v * e ** p) @ v.T


@dataclass
class ContentSide:
    mean: np.ndarray
    matrix: np.ndarray  # Linear: its content matrix; WCT: the whitening matrix


def average_content(sides: list[ContentSide]) -> ContentSide:
    """One set of content statistics for several frames (each part is a mean over positions,
    so their average is close to the statistics of the frames side by side)."""
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return ContentSide(mean([c.mean for c in sides]), mean([c.matrix for c in sides]))


def content_side(method: Method, backend, weights: dict, feats: np.ndarray,
                 wrap: str, tile: int) -> ContentSide:
    """Global content statistics over the whole feature map, tile by tile where needed."""
    return pooled_content_side(method, backend, weights, [(feats, wrap)], tile)


def pooled_content_side(method: Method, backend, weights: dict, maps: list[tuple[np.ndarray, str]],
                        tile: int) -> ContentSide:
    """Content statistics of several feature maps (each with its own wrap mode) as if they
    lay side by side: the sums of every map, one mean, one transformation for all. The
    tiles of one image pool the same way, which is why they cannot shift colour."""
    feats = [f for f, _ in maps]
    mean = channel_mean(feats)
    if method.kind == "wct":
        return ContentSide(mean, _matrix_power(channel_covariance(feats, mean), -0.5))
    net = Net.of(method.transform, "cnet")
    part = net.part
    gram, n = None, 0
    # Tiles go to the backend ahead of their sums (as the engine's tile loop does: a CPU
    # computes `lanes` of them at once); the sums are taken in the tiles' order, so they
    # are the same to the last bit however many run at once.
    ahead, pending = max(1, getattr(backend, "lanes", 1)), deque()
    for f, wrap in maps:
        # Tiles of twice the side asked for (the decoder's, in feature pixels): a halo's
        # share halves, and at 256 channels they hold about the bytes of an encoder tile.
        wins = tiling.windows(f.shape[:2], 2 * tile, part.halo(), WRAPS[wrap])
        # A lone tile goes on every core, not to one lane while the others wait
        lanes = {"background": True} if ahead > 1 and (len(wins) > 1 or len(maps) > 1) else {}
        for win in wins:
            src = win.read(f)
            x = float32(src)
            x = x - like(mean, x)  # not in place: a read may be a view
            pending.append((win, backend.submit(net, x, wrap, **lanes)))
            release(f, src.nbytes)  # what was read of the map, in its own type
            while len(pending) > ahead:
                done, result = pending.popleft()
                gram = _add(gram, _gram(done.core(result())))
        n += f.shape[0] * f.shape[1]
    while pending:
        done, result = pending.popleft()
        gram = _add(gram, _gram(done.core(result())))
    gram = to_host(gram) / n
    matrix = _dense(weights[method.transform], "cnet.fc", gram.reshape(-1)).reshape(MATRIX, MATRIX)
    return ContentSide(mean, matrix)


class Transform:
    """Maps content features to stylized features, position by position.

    Styles mix by their weights (matrices and means are averaged: the transform is
    linear in them). `strength` blends in feature space: 0 gives the decoder's
    reconstruction of the content, 1 the full style.
    """

    def __init__(self, method: Method, weights: dict, content: ContentSide,
                 styles: list[tuple[StyleSide, float]], strength: float):
        self.method, self.alpha = method, float(strength)
        total = sum(wt for _, wt in styles)
        s_matrix = sum(side.matrix * (wt / total) for side, wt in styles)
        s_mean = sum(side.mean * (wt / total) for side, wt in styles)
        # (Mᵀ, v, c) where the transform is f ↦ f Mᵀ + v, c the content mean (where a
        # low-precision backend centres the features before rounding): a backend folds it
        if method.kind == "wct":
            # colour(whiten(f − μc)) + μs, the same folded affine form as Linear.
            m = s_matrix @ content.matrix
            v = s_mean - m @ content.mean
            self._fold(m, v, content.mean)
            return
        # Linear: unzip(T · compress(f − μc)) + μs, folded into one affine map M f + v.
        w = weights[method.transform]
        t = s_matrix @ content.matrix
        cw, cb = w["compress.weight"], w["compress.bias"]
        uw, ub = w["unzip.weight"], w["unzip.bias"]
        self._fold(uw @ t @ cw, uw @ t @ (cb - cw @ content.mean) + ub + s_mean, content.mean)

    def _fold(self, m: np.ndarray, v: np.ndarray, centre: np.ndarray) -> None:
        """An affine map f ↦ M f + v blended with the identity by strength, kept as row
        vectors (positions × channels): f' = f Mᵀ + v."""
        eye = np.eye(m.shape[0])
        self.mt = (self.alpha * m + (1 - self.alpha) * eye).T.astype(np.float32)
        self.v = (self.alpha * v).astype(np.float32)
        self.affine = (self.mt, self.v, centre.astype(np.float32))

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        """(h, w, C) content features → (h, w, C) stylized features."""
        h, w, c = feats.shape
        f = float32(feats).reshape(-1, c)
        out = f @ like(self.mt, f) + like(self.v, f)
        return float32(out.reshape(h, w, c))
