"""Torch-free speech recognition with an exported model (``bin/export``): numpy feature
extraction, ONNX Runtime graphs, CTC greedy / prefix beam search, U2++ attention rescoring
and chunk-by-chunk streaming.

Dependencies: numpy, onnxruntime, soundfile, soxr, (for bpe tokens) sentencepiece and (for
models trained with ``frontend: kaldi_fbank``) kaldi-native-fbank. The
modules import each other relatively and nothing from the rest of ``espnet_omnirouter``,
so the package also works as a copy outside it: every export dir carries one,
``omnirouter_runtime/`` (``PYTHONPATH=<export dir> python -m omnirouter_runtime.transcribe``).
"""
