"""Network building blocks against their plain definitions."""
import pytest
import torch
import torch.nn.functional as F

from core.backends.torch import nets
from core.nets import weights
from core.nets.architecture import ENCODERS


@pytest.mark.parametrize("base", ["reflect", "constant"])
@pytest.mark.parametrize("wrap", ["none", "x", "both"])
def test_padconv_equals_padding_then_convolving(base, wrap):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(5, 4, 3)
    x = torch.randn(2, 5, 7, 9)
    mode_x = "circular" if wrap in ("x", "both") else base
    mode_y = "circular" if wrap == "both" else base
    ref = F.pad(x, (1, 1, 0, 0), mode=mode_x)
    ref = F.pad(ref, (0, 0, 1, 1), mode=mode_y)
    expected = conv(ref)
    got = nets.PadConv(conv, base, wrap)(x)
    assert torch.allclose(got, expected, atol=1e-5)
    got_cl = nets.PadConv(conv, base, wrap)(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(got_cl, expected, atol=1e-5)


def test_caffe_preprocessing_feeds_bgr_0_255_minus_mean():
    pre = nets.caffe_preprocess()
    rgb = torch.tensor([0.2, 0.5, 0.8]).view(1, 3, 1, 1)
    bgr = pre(rgb).flatten()
    assert torch.allclose(bgr, torch.tensor([0.8 * 255 - 103.939, 0.5 * 255 - 116.779, 0.2 * 255 - 123.68]))


def test_converted_vgg_sees_a_photo_like_the_reference_network():
    """WEIGHTS.md: on a real photo ~45 % of relu4_1 is non-zero, mean in the hundreds."""
    from core.media.image_io import read_image
    from pathlib import Path
    photo = Path(__file__).parent / "data" / "photo.jpg"
    img = read_image(str(photo)).color
    enc = nets.encoder(ENCODERS["r41"], weights.load("vgg19"))
    with torch.no_grad():
        f = enc(torch.from_numpy(img.transpose(2, 0, 1).copy())[None])
    active = (f > 0).float().mean().item()
    assert 0.3 < active < 0.65
    assert 100 < f[f > 0].mean().item() < 2000
    rand = nets.encoder(ENCODERS["r41"], weights.random("vgg19"))
    with torch.no_grad():
        assert rand(torch.from_numpy(img.transpose(2, 0, 1).copy())[None]).abs().mean() < 50


@pytest.mark.parametrize("base", ["reflect", "constant"])
@pytest.mark.parametrize("wrap", ["none", "x", "both"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_upconv_equals_upsampling_then_convolving(base, wrap, channels_last):
    """The sub-pixel form (4 instead of 9 multiply-adds per pixel) is the same function."""
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(6, 5, 3)
    x = torch.randn(2, 6, 5, 7)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    expected = nets.PadConv(conv, base, wrap)(F.interpolate(x, scale_factor=2, mode="nearest"))
    got = nets.UpConv(conv, base, wrap)(x)
    assert got.shape == expected.shape == (2, 5, 10, 14)
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("wrap", ["none", "x", "both"])
def test_decoders_with_and_without_fused_upsampling_agree(wrap):
    from core.nets.architecture import MODELS
    part = MODELS["decoder_r41"].parts["decoder"]
    w = weights.random("decoder_r41")
    x = torch.rand(1, 512, 9, 11).contiguous(memory_format=torch.channels_last)
    fused = nets.build(part, w, wrap)
    plain = nets.build(part, w, wrap, fuse_up=False)
    assert any(isinstance(m, nets.UpConv) for m in fused)
    assert not any(isinstance(m, nets.UpConv) for m in plain)
    with torch.inference_mode():
        a, b = fused(x), plain(x)
    assert torch.allclose(a, b, atol=1e-4 * float(b.abs().max()))


def _dtypes(net):
    """(layer type, parameter dtype) for the layers with parameters, in order."""
    return [(type(m).__name__, next(m.parameters()).dtype) for m in net if any(True for _ in m.parameters())]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_lowered_networks_keep_the_picture_layers_at_float32_accuracy(dtype):
    """`lower` runs the networks in bf16/fp16; the convolutions that read or write the
    3-channel picture run on split hi/lo operands and stay as accurate as float32 (up to
    the rounding of what they hand on), and the float32 networks it copies stay as they were."""
    from core.nets.architecture import MODELS
    enc = nets.encoder(ENCODERS["r31"], weights.random("vgg19"))
    dec = nets.build(MODELS["decoder_r31"].parts["decoder"], weights.random("decoder_r31"))
    from core.backends.torch.precision import lower
    low_enc, low_dec = lower(enc, dtype), lower(dec, dtype, centre=torch.zeros(256))
    f32 = torch.float32
    assert [type(m).__name__ for m in low_enc][:3] == ["Conv2d", "SplitInput", "PadConv"]
    assert [d for _, d in _dtypes(low_enc)] == [f32] + [dtype] * 5  # the 1×1 Caffe preprocessing stays fp32
    assert [type(m).__name__ for m in low_dec][::6] == ["Centre", "MergeOutput"]
    assert [d for _, d in _dtypes(low_dec)] == [dtype] * 5
    assert all(d == f32 for _, d in _dtypes(enc) + _dtypes(dec))  # the originals stay float32
    x = torch.rand(1, 3, 40, 48).contiguous(memory_format=torch.channels_last)
    eps = 2.0 ** -(8 if dtype == torch.bfloat16 else 11)  # one rounding of the output
    with torch.inference_mode():
        first, low_first = enc[1](enc[0](x)), low_enc[2](low_enc[1](low_enc[0](x)))
        assert (low_first.float() - first).abs().max() <= eps * first.abs().max()
        h = torch.rand(1, 64, 24, 20).to(dtype).contiguous(memory_format=torch.channels_last)
        last, low_last = dec[-1](h.float()), low_dec[-1](low_dec[-2](h))
        bias = dec[-1].conv.bias.reshape(1, -1, 1, 1)  # the rounding is of the part before the bias
        assert low_last.dtype == f32 and (low_last - last).abs().max() <= eps * (last - bias).abs().max()
        feats, low_feats = enc(x), low_enc(x)
        out, low_out = dec(feats), low_dec(feats)
    assert low_feats.dtype == dtype and low_out.dtype == f32  # the picture comes out float32
    assert torch.allclose(low_feats.float(), feats, rtol=0.05, atol=0.02 * float(feats.abs().max()))
    assert 0 < (low_out - out).abs().max() <= 0.05 * float(out.abs().max())
