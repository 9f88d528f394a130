"""Network building blocks against their plain definitions."""
import pytest
import torch
import torch.nn.functional as F

from core import nets, weights
from core.architecture import ENCODERS


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
    from core.image_io import read_image
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
    from core.architecture import MODELS
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
