"""Loading a trained model into ESPnet's ``Speech2Text`` for decoding."""

from pathlib import Path

import yaml

from espnet_omnirouter.utils.model_config import config_with_resolved_files


def load_speech2text(config: Path, model_file: Path, beam_size: int):
    """ESPnet's ``Speech2Text`` on CPU; its beam search weighs CTC 0.3 in hybrid models
    and 1.0 in CTC-only ones. The files the config names relative to its recipe dir are
    found from any current directory (``config_with_resolved_files``)."""
    from espnet2.bin.asr_inference import Speech2Text

    with config_with_resolved_files(config) as resolved:
        return Speech2Text(
            asr_train_config=str(resolved),
            asr_model_file=str(model_file),
            device="cpu",
            beam_size=beam_size,
            ctc_weight=1.0 if _is_ctc_only(config) else 0.3,
            nbest=1,
        )


def _is_ctc_only(config: Path) -> bool:
    conf = yaml.safe_load(Path(config).read_text())
    return conf.get("decoder") is None or conf.get("model_conf", {}).get("ctc_weight") == 1.0
