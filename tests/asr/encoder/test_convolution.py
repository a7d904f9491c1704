"""Causal convolution: no look-ahead, and chunked with a cache equals whole."""

import torch

from espnet_omnirouter.asr.encoder.convolution import CausalConvolutionModule


def module() -> CausalConvolutionModule:
    torch.manual_seed(0)
    return CausalConvolutionModule(8, 5, torch.nn.SiLU(), bias=True).eval()


def test_output_never_depends_on_later_frames():
    conv, x = module(), torch.randn(2, 12, 8)
    changed = x.clone()
    changed[:, 7:] = torch.randn(2, 5, 8)
    with torch.no_grad():
        a, _ = conv(x)
        b, _ = conv(changed)
    assert torch.allclose(a[:, :7], b[:, :7]) and not torch.allclose(a[:, 7:], b[:, 7:])


def test_chunks_with_cache_equal_one_pass():
    conv, x = module(), torch.randn(1, 11, 8)
    with torch.no_grad():
        whole, _ = conv(x)
        cache, pieces = None, []
        for chunk in x.split(3, dim=1):
            out, cache = conv(chunk, cache)
            pieces.append(out)
    assert cache.shape == (1, 8, 4)
    assert torch.allclose(torch.cat(pieces, dim=1), whole, atol=1e-6)


def test_same_parameters_as_espnets_convolution_module():
    from espnet_omnirouter.utils.legacy_nets import ConvolutionModule

    reference = ConvolutionModule(8, 5, torch.nn.SiLU(), bias=True)
    assert module().state_dict().keys() == reference.state_dict().keys()
