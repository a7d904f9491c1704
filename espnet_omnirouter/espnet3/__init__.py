"""The plugin in ESPnet3 recipes (``egs3/<corpus>/<system>/``, ESPnet 202609 and later).

What an ESPnet3 config names, by import path:

- ``task: espnet_omnirouter.espnet3.task.ASRTask``: builds the plugin's encoders, decoders
  and models from a recipe's ESPnet2-style ``model:`` block (``task.py``);
- ``model: {_target_: espnet_omnirouter.espnet3.inference.DecodingBackend, ...}`` in an
  inference config: the plugin's decoding modes as an inference backend (``inference.py``);
- ``_target_: espnet_omnirouter.espnet3.metrics.WER``: the package's WER, with the text
  normaliser of its results tables (``metrics.py``);
- ``KaldiDirDataset`` and ``kaldi_transcripts`` (``kaldi_dataset.py``): Kaldi data dirs,
  as the ESPnet2 recipes make them, as ESPnet3 datasets and tokenizer text.

Nothing here is imported by ``import espnet_omnirouter``: ESPnet3 is needed only by the
process that imports these modules.
"""
