"""An utterance's encoder output and CTC hypothesis are the same alone and in a padded
batch, for every model type: padding reaches neither the attention, the convolution
(ESPnet's reads it, the project's blocks do not), the MoE routing nor the lengths.

The encoder is given each utterance's own features, padded into a batch: ESPnet's STFT
frontend itself gives an utterance's last frames other values in a batch (the window
past its end reads the batch's zeros instead of its reflection)."""

import pytest
import torch
from conftest import TINY_CONFORMER
from espnet2.tasks.asr import ASRTask

TOKENS = ["<blank>", "<unk>", "a", "b", "c", "<sos/eos>"]
CTC_MODELS = [("moe_conformer", moe, None) for moe in ("dense", "switch", "omni")]
U2PP_MODELS = [
    ("u2pp_conformer", moe, causal)
    for moe in ("dense", "switch", "omni", "u2pp")
    for causal in (True, False)
]


def build(encoder: str, moe_type: str, causal) -> torch.nn.Module:
    args = ASRTask.get_parser().parse_args([])
    encoder_conf = {**TINY_CONFORMER, "cnn_module_kernel": 7, "moe_conf": {"type": moe_type}}
    if moe_type != "dense":
        encoder_conf["moe_conf"]["num_experts"] = 4
    if encoder == "u2pp_conformer":
        encoder_conf.update(rel_pos_type="legacy", causal=causal)
    vars(args).update(
        token_list=TOKENS,
        frontend_conf={"n_fft": 128, "hop_length": 64, "n_mels": 20, "fs": 8000},
        normalize="utterance_mvn" if encoder == "moe_conformer" else None,
        encoder=encoder,
        encoder_conf=encoder_conf,
        model="moe_espnet",
        model_conf={"ctc_weight": 1.0},
    )
    torch.manual_seed(0)
    return ASRTask.build_model(args).eval()


def features(model, speech: torch.Tensor) -> torch.Tensor:
    """(T, F) normalised features of one utterance (1, samples)."""
    feats, lens = model._extract_feats(speech, torch.tensor([speech.shape[1]]))
    if model.normalize is not None:
        feats, lens = model.normalize(feats, lens)
    return feats[0, : lens[0]]


def greedy(model, encoded: torch.Tensor) -> list:
    ids = torch.unique_consecutive(model.ctc.argmax(encoded)[0]).tolist()
    return [i for i in ids if i != model.blank_id]


@pytest.mark.parametrize(
    "encoder, moe_type, causal", CTC_MODELS + U2PP_MODELS, ids=lambda v: str(v)
)
def test_an_utterance_decodes_the_same_alone_and_in_a_padded_batch(encoder, moe_type, causal):
    model = build(encoder, moe_type, causal)
    torch.manual_seed(1)
    lengths = torch.tensor([4000, 2900, 1700])
    speech = torch.randn(3, 4000)
    chunks = [0, 3] if encoder == "u2pp_conformer" else [0]
    for chunk_size in chunks:  # full context and, for U2++, chunk-masked decoding
        with torch.no_grad():
            feats = [features(model, speech[i : i + 1, :n]) for i, n in enumerate(lengths)]
            padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
            feats_lens = torch.tensor([len(f) for f in feats])
            batched, batched_lens, _ = model.encoder(padded, feats_lens, chunk_size=chunk_size)
            for index, feat in enumerate(feats):
                alone, alone_lens, _ = model.encoder(
                    feat[None], feats_lens[index : index + 1], chunk_size=chunk_size
                )
                frames = int(alone_lens[0])
                assert int(batched_lens[index]) == frames
                torch.testing.assert_close(
                    batched[index : index + 1, :frames], alone, rtol=0, atol=2e-5
                )
                assert greedy(model, batched[index : index + 1, :frames]) == greedy(model, alone)
