"""DecodingBackend: the plugin's decoding modes behind ESPnet3's inference runner
(skipped without ESPnet3)."""

import numpy as np
import pytest
import torch

# ESPnet3's package, not this directory (tests/ is on sys.path, and without ESPnet3
# installed "espnet3" would name tests/espnet3 as a namespace package).
pytest.importorskip("espnet3.systems")

from espnet3.contract.kinds.audio import Audio  # noqa: E402
from espnet3.systems.base.inference_runner import InferenceRunner  # noqa: E402

from espnet_omnirouter.asr.decoding.decoding_modes import decode_waves, make_decoding  # noqa: E402
from espnet_omnirouter.asr.decoding.eager_model import EagerModel  # noqa: E402
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text  # noqa: E402
from espnet_omnirouter.espnet3.inference import DecodingBackend  # noqa: E402

RATE = 8000  # the tiny experiment's frontend


@pytest.fixture
def backend(experiment):
    return DecodingBackend(experiment / "config.yaml", experiment / "valid.loss.ave.pth")


def waves():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(n).astype(np.float32) for n in (4000, 9000, 6000)]


def test_texts_are_bin_decode_s(backend, experiment):
    speech2text = load_speech2text(experiment / "config.yaml", experiment / "valid.loss.ave.pth", 1)
    decoding = make_decoding(EagerModel(speech2text), ["ctc_greedy"])
    expected, _ = decode_waves(decoding, [torch.from_numpy(w) for w in waves()])["ctc_greedy"]
    assert any(expected)  # an untrained model still emits tokens: the comparison means something
    outputs = backend([Audio(w, RATE) for w in waves()])
    assert [output["text"] for output in outputs] == expected
    assert backend(Audio(waves()[1], RATE))["text"] == expected[1]  # one utterance: one mapping


def test_time_is_shared_in_proportion_to_duration(backend):
    outputs = backend([Audio(w, RATE) for w in waves()])
    assert [o["audio_seconds"] for o in outputs] == [0.5, 1.125, 0.75]
    shares = [o["decode_seconds"] / o["audio_seconds"] for o in outputs]
    assert shares[0] > 0 and shares == pytest.approx([shares[0]] * 3)


def test_through_espnet3_s_runner_and_contract(backend):
    from espnet3.contract.inference import load_inference_contract

    contract = load_inference_contract(
        {
            "inputs": {"speech": {"kind": "audio", "sample_rate": RATE, "channels": 1}},
            "outputs": {
                "text": {"kind": "text"},
                "decode_seconds": {"kind": "number"},
                "audio_seconds": {"kind": "number"},
            },
        }
    )
    dataset = [{"speech": w, "utt_id": f"utt{i}"} for i, w in enumerate(waves())]
    outputs = InferenceRunner.forward(
        [0, 1], dataset=dataset, model=backend, input_key="speech", inference_contract=contract
    )
    assert [o["utt_id"] for o in outputs] == ["utt0", "utt1"]
    assert [o["text"] for o in outputs] == [
        o["text"] for o in backend([Audio(w, RATE) for w in waves()[:2]])
    ]


def test_refuses_what_it_cannot_decode(backend, experiment):
    with pytest.raises(ValueError, match="'nope'; choose from .*'ctc_greedy'"):
        DecodingBackend(experiment / "config.yaml", experiment / "valid.loss.ave.pth", "nope")
    with pytest.raises(ValueError, match="ctc_lexicon_lm needs a word LM"):
        DecodingBackend(
            experiment / "config.yaml", experiment / "valid.loss.ave.pth", "ctc_lexicon_lm"
        )
    with pytest.raises(ValueError, match="device: cpu"):
        DecodingBackend(
            experiment / "config.yaml", experiment / "valid.loss.ave.pth", device="cuda:0"
        )
    with pytest.raises(ValueError, match="attention_rescoring needs"):  # a CTC-only model
        DecodingBackend(
            experiment / "config.yaml", experiment / "valid.loss.ave.pth", "attention_rescoring"
        )
    with pytest.raises(ValueError, match="1 channel at 8000 Hz"):
        backend(Audio(waves()[0], 16000))
