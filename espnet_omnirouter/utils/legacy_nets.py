"""ESPnet's network building blocks, from wherever the installed ESPnet keeps them.

ESPnet2's models are built from ESPnet1's modules (attention, Conformer layers,
subsampling, ...). ESPnet 202609 and later moved them from ``espnet.nets`` to
``espnet2.legacy.nets`` (same file names). The rest of the package imports them from
here, so nothing else depends on which release is installed.
"""

import importlib
import importlib.util
from types import ModuleType

NETS_PACKAGE = (
    "espnet2.legacy.nets" if importlib.util.find_spec("espnet2.legacy") else "espnet.nets"
)


def _nets_module(name: str) -> ModuleType:
    return importlib.import_module(f"{NETS_PACKAGE}.{name}")


_attention = _nets_module("pytorch_backend.transformer.attention")
_nets_utils = _nets_module("pytorch_backend.nets_utils")
_subsampling = _nets_module("pytorch_backend.transformer.subsampling")

BatchBeamSearch = _nets_module("batch_beam_search").BatchBeamSearch
ConvolutionModule = _nets_module("pytorch_backend.conformer.convolution").ConvolutionModule
DecoderLayer = _nets_module("pytorch_backend.transformer.decoder_layer").DecoderLayer
EncoderLayer = _nets_module("pytorch_backend.conformer.encoder_layer").EncoderLayer
LegacyRelPositionMultiHeadedAttention = _attention.LegacyRelPositionMultiHeadedAttention
PositionwiseFeedForward = _nets_module(
    "pytorch_backend.transformer.positionwise_feed_forward"
).PositionwiseFeedForward
add_sos_eos = _nets_module("pytorch_backend.transformer.add_sos_eos").add_sos_eos
make_pad_mask = _nets_utils.make_pad_mask
pad_list = _nets_utils.pad_list
subsequent_mask = _nets_module("pytorch_backend.transformer.mask").subsequent_mask
TooShortUttError = _subsampling.TooShortUttError
check_short_utt = _subsampling.check_short_utt
Conv2dSubsampling = _subsampling.Conv2dSubsampling
Conv2dSubsampling2 = _subsampling.Conv2dSubsampling2
Conv2dSubsampling6 = _subsampling.Conv2dSubsampling6
Conv2dSubsampling8 = _subsampling.Conv2dSubsampling8
LegacyRelPositionalEncoding = _nets_module(
    "pytorch_backend.transformer.embedding"
).LegacyRelPositionalEncoding
