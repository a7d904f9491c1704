"""``frontend: kaldi_fbank`` computes what sherpa-onnx's kaldi-native-fbank computes, per
utterance in a padded batch, and trains in ESPnet."""

import kaldi_native_fbank as knf
import numpy as np
import pytest
import torch
from conftest import TINY_CONFORMER
from espnet2.tasks.asr import ASRTask

from espnet_omnirouter.asr.frontend.kaldi_fbank import KaldiFbankFrontend


def sherpa_onnx_features(samples: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """kaldi-native-fbank with the options sherpa-onnx's feature extractor sets."""
    options = knf.FbankOptions()
    options.frame_opts.samp_freq = sample_rate
    options.frame_opts.dither = 0.0
    options.frame_opts.snip_edges = False
    options.frame_opts.window_type = "povey"
    options.mel_opts.num_bins = 80
    options.mel_opts.low_freq = 20.0
    options.mel_opts.high_freq = -400.0
    fbank = knf.OnlineFbank(options)
    fbank.accept_waveform(sample_rate, (samples * 32768).tolist())
    fbank.input_finished()
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


@pytest.mark.parametrize("num_samples", [80, 150, 399, 400, 1234, 16000, 23999])
def test_features_are_kaldi_native_fbank_s(num_samples):
    rng = np.random.default_rng(num_samples)
    samples = (0.3 * rng.standard_normal(num_samples)).astype(np.float32)
    expected = sherpa_onnx_features(samples)
    frontend = KaldiFbankFrontend().eval()
    feats, lengths = frontend(torch.from_numpy(samples)[None], torch.tensor([num_samples]))
    assert int(lengths[0]) == len(expected) == feats.shape[1]
    # log energies: the two float32 FFTs differ in the last bits
    np.testing.assert_allclose(feats[0].numpy(), expected, rtol=0, atol=1e-3)


def test_padding_does_not_reach_an_utterance_s_frames():
    frontend = KaldiFbankFrontend().eval()
    torch.manual_seed(0)
    speech = 0.1 * torch.randn(3, 8000)
    lengths = torch.tensor([8000, 5555, 0])
    feats, feats_lengths = frontend(speech, lengths)
    assert feats_lengths.tolist() == [50, 35, 0]
    alone, _ = frontend(speech[1:2, :5555], lengths[1:2])
    assert torch.equal(feats[1, :35], alone[0])


def test_an_espnet_model_with_it_trains_a_step():
    args = ASRTask.get_parser().parse_args([])
    vars(args).update(
        token_list=["<blank>", "<unk>", "a", "b", "<sos/eos>"],
        frontend="kaldi_fbank",
        frontend_conf={"n_mels": 80},
        normalize="utterance_mvn",
        encoder="moe_conformer",
        encoder_conf={**TINY_CONFORMER, "moe_conf": {"type": "omni", "num_experts": 2}},
        model="moe_espnet",
        model_conf={"ctc_weight": 1.0},
    )
    model = ASRTask.build_model(args)
    assert isinstance(model.frontend, KaldiFbankFrontend)
    loss, _, _ = model(
        0.1 * torch.randn(2, 8000), torch.tensor([8000, 6000]),
        torch.tensor([[2, 3], [3, 0]]), torch.tensor([2, 1]),
    )  # fmt: skip
    loss.backward()
    assert torch.isfinite(loss)
