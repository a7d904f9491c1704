"""An exported model loaded into ONNX Runtime, as a ``RecognitionModel``: features,
encoder output, CTC log-probabilities, U2++ chunk-by-chunk encoding with caches, the
attention decoders, text."""

import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

try:
    import onnxruntime
except ModuleNotFoundError as error:  # no import from the package: runtime/ stands alone
    raise ModuleNotFoundError(
        "the ONNX Runtime transcriber needs onnxruntime: pip install onnxruntime "
        "(or pip install 'espnet_omnirouter[onnx]')",
        name="onnxruntime",
    ) from error

from .fbank import KaldiFbankFeatures
from .frontend import LogMelFrontend
from .recognition_model import FeatureStream

SUPPORTED_FORMAT_VERSION = 1


class ExportedModelError(RuntimeError):
    """An exported model dir that cannot be loaded (no ``export.json``, another format
    version, a listed graph missing) or lacks a graph a decoding needs (``bin/export``
    raises ``export.exporter.ExportError`` when exporting fails)."""


class ChunkState:
    """Streaming state of the chunk encoder: frames output so far and the caches."""

    def __init__(self, num_blocks: int, size: int, cnn_cache_size: int):
        self.offset = 0
        self.att_cache = np.zeros((num_blocks, 1, 0, size), np.float32)
        self.cnn_cache = np.zeros((num_blocks, 1, size, cnn_cache_size), np.float32)


class ExportedModel:
    """The graphs of an export dir (``bin/export``) and what decoding needs around them:
    a ``recognition_model.RecognitionModel``.

    A graph's ONNX Runtime session is created when first used, so a decoding mode loads
    only its own graphs (CTC greedy search: encoder and CTC; streaming: chunk encoder
    and CTC; rescoring adds the decoder): less memory and start-up time for large models.

    Args:
        directory: The export dir (``export.json``, ``*.onnx``, ``frontend.npz``, ...).
        num_threads: ONNX Runtime intra-op threads (0: its default, all cores).
    """

    def __init__(self, directory: Path, num_threads: int = 0):
        self.directory = Path(directory)
        description_file = self.directory / "export.json"
        if not description_file.is_file():
            raise ExportedModelError(f"{self.directory} is not an export dir: no export.json")
        self.description = json.loads(description_file.read_text())
        version = self.description.get("format_version")
        if version != SUPPORTED_FORMAT_VERSION:
            raise ExportedModelError(
                f"{description_file}: format_version {version}, this runtime reads "
                f"{SUPPORTED_FORMAT_VERSION}"
            )
        self._options = onnxruntime.SessionOptions()
        self._options.intra_op_num_threads = num_threads
        self._options.inter_op_num_threads = 1
        self.graphs: Dict[str, Path] = {}
        for name, file_name in self.description["graphs"].items():
            path = self.directory / file_name
            if not path.is_file():
                raise ExportedModelError(f"{path} is missing (listed in {description_file})")
            self.graphs[name] = path
        # Sessions created so far, by graph name.
        self.sessions: Dict[str, onnxruntime.InferenceSession] = {}
        frontend = self.description["frontend"]
        # ESPnet's STFT log-mel (exports without a type), or Kaldi's fbank (kaldi_fbank).
        frontend_class = (
            KaldiFbankFeatures if frontend.get("type") == "kaldi_fbank" else LogMelFrontend
        )
        self.frontend = frontend_class.from_export_dir(self.directory, frontend)
        self.encoder_info = self.description["encoder"]
        self.token_list: List[str] = self.description["token_list"]
        self.blank_id, self.sos, self.eos = (
            self.description[k] for k in ("blank_id", "sos", "eos")
        )
        self._tokens_to_text = self._make_detokenizer()

    def session(self, name: str) -> onnxruntime.InferenceSession:
        """The ONNX Runtime session of graph ``name`` (``encoder``, ``ctc``,
        ``chunk_encoder`` or ``decoder``), created on first use."""
        if name not in self.sessions:
            self.sessions[name] = onnxruntime.InferenceSession(
                str(self.graphs[name]), self._options, providers=["CPUExecutionProvider"]
            )
        return self.sessions[name]

    @property
    def sample_rate(self) -> int:
        return int(self.description["frontend"]["sample_rate"])

    @property
    def min_samples(self) -> int:
        """Fewest samples the encoder turns into one frame: enough feature frames for its
        input layer (``right_context + 1``); the decoders give shorter audio (empty audio
        included) the empty text."""
        return self.frontend.min_samples(self.encoder_info["right_context"] + 1)

    @property
    def streamable(self) -> bool:
        """Whether the export has the streaming chunk encoder (U2++, causal)."""
        return "chunk_encoder" in self.graphs

    @property
    def chunk_attention(self) -> bool:
        """Chunk attention runs on the chunk encoder: the exports that stream."""
        return self.streamable

    @property
    def right_context(self) -> int:
        return int(self.encoder_info["right_context"])

    @property
    def hop_length(self) -> int:
        return self.frontend.hop_length

    def feature_stream(self) -> FeatureStream:
        return self.frontend.stream()

    @property
    def has_decoder(self) -> bool:
        return "decoder" in self.graphs

    @property
    def reverse_weight(self) -> float:
        decoder = self.description["decoder"]
        return float(decoder["reverse_weight"]) if decoder and decoder["bidirectional"] else 0.0

    def _make_detokenizer(self):
        if self.description["token_type"] == "bpe":
            import sentencepiece

            processor = sentencepiece.SentencePieceProcessor()
            processor.Load(str(self.directory / self.description["bpemodel"]))
            return lambda tokens: processor.DecodePieces(list(tokens))
        space = self.description["space_symbol"]
        return lambda tokens: "".join(" " if token == space else token for token in tokens)

    def ids_to_text(self, token_ids: Sequence[int]) -> str:
        """Text of token ids (ESPnet's ``ids2tokens`` then ``tokens2text``)."""
        tokens = [self.token_list[i] for i in token_ids]
        return self._tokens_to_text(tokens) if tokens else ""

    def features(self, samples: np.ndarray) -> np.ndarray:
        """(samples,) at ``sample_rate`` -> normalised features (T, F)."""
        return self.frontend(samples)

    def encode(
        self, feats: np.ndarray, chunk_size: int = 0, num_left_chunks: int = -1
    ) -> np.ndarray:
        """Encoder output (1, T', D) of one utterance's features (T, F): full context, or
        chunk attention computed chunk by chunk (``encode_chunk_by_chunk``)."""
        if chunk_size:
            return self.encode_chunk_by_chunk(feats, chunk_size, num_left_chunks)
        self._check_length(feats.shape[0])
        encoder_out, _ = self.session("encoder").run(
            None, {"feats": feats[None], "feats_lens": np.array([feats.shape[0]], np.int64)}
        )
        return encoder_out

    def ctc_log_probs(self, encoder_out: np.ndarray) -> np.ndarray:
        """CTC log-probabilities (T', V) of one utterance's encoder output (1, T', D)."""
        return self.session("ctc").run(None, {"hidden": encoder_out})[0][0]

    def streaming_window(self, chunk_size: int) -> Tuple[int, int]:
        """(feature frames per chunk, feature frames between chunk starts)."""
        rate, right = self.encoder_info["subsampling_rate"], self.encoder_info["right_context"]
        return (chunk_size - 1) * rate + right + 1, chunk_size * rate

    def new_chunk_state(self) -> ChunkState:
        if not self.streamable:
            raise ExportedModelError(
                f"{self.directory}: no chunk_encoder.onnx; streaming and chunk attention "
                "need a U2++ model (encoder: u2pp_conformer)"
            )
        info = self.encoder_info
        return ChunkState(info["num_blocks"], info["output_size"], info["cnn_cache_size"])

    def encode_chunk(
        self, chunk: np.ndarray, state: ChunkState, required_cache_size: int
    ) -> Tuple[np.ndarray, ChunkState]:
        """Encode the next chunk (W, F) of a stream: (1, t, D) and the state, updated."""
        self._check_length(state.offset * self.encoder_info["subsampling_rate"] + len(chunk))
        output, state.att_cache, state.cnn_cache = self.session("chunk_encoder").run(
            None,
            {
                "chunk": chunk[None],
                "offset": np.array(state.offset, np.int64),
                "required_cache_size": np.array(required_cache_size, np.int64),
                "att_cache": state.att_cache,
                "cnn_cache": state.cnn_cache,
            },
        )
        state.offset += output.shape[1]
        return output, state

    def encode_chunk_by_chunk(
        self, feats: np.ndarray, chunk_size: int, num_left_chunks: int = -1
    ) -> np.ndarray:
        """Chunk-attention encoder output (1, T', D) of features (T, F), computed chunk by
        chunk (equal to the chunk-masked full forward of the eager encoder)."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        window, stride = self.streaming_window(chunk_size)
        required = chunk_size * num_left_chunks if num_left_chunks >= 0 else -1
        state, outputs = self.new_chunk_state(), []
        for start in range(0, len(feats) - self.encoder_info["right_context"], stride):
            output, state = self.encode_chunk(feats[start : start + window], state, required)
            outputs.append(output)
        size = self.encoder_info["output_size"]
        return np.concatenate(outputs, axis=1) if outputs else np.zeros((1, 0, size), np.float32)

    def decoder_log_probs(
        self,
        encoder_out: np.ndarray,
        ys_in: np.ndarray,
        ys_in_lens: np.ndarray,
        r_ys_in: Optional[np.ndarray],
    ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """``decoder.onnx`` teacher-forced on one utterance's encoder output (1, T, D):
        left-to-right log-probabilities (N, L, V), and right-to-left ones with
        ``r_ys_in`` (a bidirectional export)."""
        if not self.has_decoder:
            raise ExportedModelError(f"{self.directory}: no decoder.onnx (the model has none)")
        bidirectional = self.description["decoder"]["bidirectional"]
        inputs = {"encoder_out": encoder_out, "hyps": ys_in, "hyps_lens": ys_in_lens}
        if bidirectional:
            inputs["r_hyps"] = ys_in if r_ys_in is None else r_ys_in
        outputs = self.session("decoder").run(None, inputs)
        return outputs[0], (outputs[1] if bidirectional and r_ys_in is not None else None)

    def _check_length(self, feature_frames: int) -> None:
        rate = self.encoder_info["subsampling_rate"] or 1
        if feature_frames // rate > self.encoder_info["max_frames"]:
            raise ValueError(
                f"input of {feature_frames} feature frames is longer than the export's "
                f"max_frames={self.encoder_info['max_frames']} encoder frames: re-export "
                "with a larger --max_frames"
            )
