"""A trained ESPnet model (its ``Speech2Text``) as a ``runtime.recognition_model
.RecognitionModel``: the decoding algorithms of ``runtime`` (greedy and prefix beam
search, attention rescoring, streaming) run on it as they run on an export."""

from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from espnet2.asr.frontend.default import DefaultFrontend
from espnet2.layers.global_mvn import GlobalMVN

from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import (
    StreamingState,
    U2ppConformerEncoder,
)
from espnet_omnirouter.asr.frontend.kaldi_fbank import KaldiFbankFrontend
from espnet_omnirouter.utils.legacy_nets import TooShortUttError
from espnet_omnirouter.utils.model_config import frontend_sample_rate


def refuse_unstreamable_model(model: torch.nn.Module) -> None:
    """Fail, naming the component, when chunk-by-chunk recognition of ``model`` cannot
    reproduce its offline output: features must depend on nearby samples only, the
    encoder must be a streamable ``U2ppConformerEncoder``, nothing may run between."""
    encoder = model.encoder
    if not isinstance(encoder, U2ppConformerEncoder):
        raise TypeError(f"streaming needs a u2pp_conformer encoder, not {type(encoder).__name__}")
    if not encoder.streamable:
        raise ValueError(
            "encoder_conf.causal: false: the convolution looks ahead of each chunk, so the "
            "model cannot stream (train with causal: true; it decodes with chunk attention)"
        )
    frontend = model.frontend
    if isinstance(frontend, DefaultFrontend) and frontend.stft is not None:
        enhancement = frontend.frontend
        if enhancement is not None and (enhancement.use_wpe or enhancement.use_beamformer):
            raise ValueError("frontend_conf.frontend_conf: WPE and beamforming do not stream")
    elif not isinstance(frontend, KaldiFbankFrontend):
        raise TypeError(
            "streaming computes features with ESPnet's default STFT frontend or kaldi_fbank, "
            f"not {type(frontend).__name__}"
        )
    if model.normalize is not None and not isinstance(model.normalize, GlobalMVN):
        raise ValueError(
            f"normalize: {type(model.normalize).__name__} normalises with statistics of the "
            "whole utterance, which a stream has not heard yet: streamed features cannot "
            "equal the offline ones (train with normalize: global_mvn, or none)"
        )
    for part in ("preencoder", "postencoder"):
        if getattr(model, part, None) is not None:
            raise ValueError(f"a model with a {part} does not stream")
    if model.ctc is None:
        raise ValueError("model_conf.ctc_weight: 0 builds no CTC, which streaming decodes with")


def min_decodable_samples(model: torch.nn.Module, limit: int = 1 << 16) -> int:
    """Fewest samples that ``model.encode`` turns into at least one encoder frame
    (the encoder's input layer subsamples: ESPnet's conv2d needs 7 feature frames).

    Found by encoding silence of growing length (a handful of tiny forwards): below
    their limits the STFT's reflection padding raises ``RuntimeError`` and ESPnet's
    encoders ``TooShortUttError``.
    """
    frontend = getattr(model, "frontend", None)
    step = getattr(frontend, "hop_length", None) or 64
    error = None
    with torch.no_grad():
        for samples in range(step, limit + 1, step):
            try:
                _, lengths = model.encode(torch.zeros(1, samples), torch.tensor([samples]))
            except (TooShortUttError, RuntimeError) as too_short:
                error = too_short
                continue
            if int(lengths[0]) > 0:
                return samples
    raise ValueError(f"the model encodes no input of up to {limit} samples") from error


class EagerFeatureStream:
    """The model's own features of an audio stream, frame by frame as they become final.

    A feature frame is final once the window around it lies inside the audio received
    (all of them when the stream ends): the frontend (ESPnet's STFT or kaldi_fbank) runs
    on the last window's worth of audio, and its frames equal those of the whole stream.
    """

    def __init__(self, model: torch.nn.Module):
        self.model = model
        frontend = model.frontend
        # Frame k of a signal reads samples k * hop - pad .. k * hop - pad + n_fft - 1.
        if isinstance(frontend, KaldiFbankFrontend):
            self.hop_length, self.n_fft = frontend.hop_length, frontend.win_length
            self.pad = frontend.window_pad
        else:
            stft = frontend.stft
            self.hop_length, self.n_fft = stft.hop_length, stft.n_fft
            self.pad = stft.n_fft // 2 if stft.center else 0
        self.audio = np.zeros(0, dtype=np.float32)  # the stream from sample audio_start on
        self.audio_start = 0  # a multiple of the hop length
        self.frames_taken = 0
        self.feat_size = model.frontend.output_size()

    def accept(self, samples: np.ndarray) -> np.ndarray:
        self.audio = np.concatenate([self.audio, np.asarray(samples, dtype=np.float32)])
        return self._take(final=False)

    def flush(self) -> np.ndarray:
        return self._take(final=True)

    def _take(self, final: bool) -> np.ndarray:
        if len(self.audio) <= self.pad or len(self.audio) + self.pad < self.n_fft:
            return np.zeros((0, self.feat_size), np.float32)  # no frame yet
        total = self.audio_start + len(self.audio)
        with torch.no_grad():
            feats, lengths = self.model.frontend(
                torch.from_numpy(self.audio)[None], torch.tensor([len(self.audio)])
            )
            if self.model.normalize is not None:
                feats, lengths = self.model.normalize(feats, lengths)
        first = self.audio_start // self.hop_length  # the buffer's frame 0
        ready = (
            first + feats.size(1)
            if final
            else (total + self.pad - self.n_fft) // self.hop_length + 1
        )
        new = feats[0, self.frames_taken - first : ready - first].float().numpy()
        self.frames_taken = max(self.frames_taken, ready)
        # Keep the audio from a hop boundary far enough before the next frame that the
        # frames from it on read no padding at the buffer's start (they then equal the
        # stream's), plus one hop so the buffer stays longer than the padding.
        margin = -(-self.pad // self.hop_length) + 1
        keep_from = max(0, (self.frames_taken - margin) * self.hop_length)
        if keep_from > self.audio_start:
            self.audio = self.audio[keep_from - self.audio_start :]
            self.audio_start = keep_from
        return new


class EagerModel:
    """An ESPnet ``Speech2Text``'s model in evaluation mode as a ``RecognitionModel``.

    Args:
        speech2text: ESPnet's ``Speech2Text`` of a trained model (any encoder for the
            offline modes; chunk attention and streaming need a U2++ encoder).
    """

    def __init__(self, speech2text):
        self.speech2text = speech2text
        self.model = speech2text.asr_model.eval()
        train_args = speech2text.asr_train_args
        self.sample_rate = (
            frontend_sample_rate(
                getattr(train_args, "frontend", "default"), getattr(train_args, "frontend_conf", {})
            )
            or 16000
        )
        self.min_samples = min_decodable_samples(self.model)
        self.blank_id, self.sos, self.eos = self.model.blank_id, self.model.sos, self.model.eos
        self.decoder = getattr(self.model, "decoder", None)
        self.has_decoder = self.decoder is not None
        self.reverse_weight = float(getattr(self.model, "reverse_weight", 0.0))
        encoder = self.model.encoder
        self.chunk_attention = isinstance(encoder, U2ppConformerEncoder)
        self.right_context = encoder.right_context if self.chunk_attention else 0
        self.hop_length = getattr(self.model.frontend, "hop_length", 0)

    @property
    def streamable(self) -> bool:
        try:
            refuse_unstreamable_model(self.model)
        except (TypeError, ValueError):
            return False
        return True

    def ids_to_text(self, token_ids: Sequence[int]) -> str:
        tokens = self.speech2text.converter.ids2tokens(list(token_ids))
        return self.speech2text.tokenizer.tokens2text(tokens) if tokens else ""

    def encode_waves(
        self, waves: List[torch.Tensor], chunk_size: int = 0, num_left_chunks: int = -1
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encoder output (B, T, D) and lengths (B,) of a batch of waveforms.

        Each waveform's features are computed alone and then padded: ESPnet's STFT on a
        padded batch gives an utterance's last frames other values (the window past its
        end reads the batch's zeros instead of its reflection), and an utterance must
        decode the same alone and in any batch."""
        alone = [self._normalised_features(w[None], torch.tensor([len(w)])) for w in waves]
        feats_lengths = torch.cat([lengths for _, lengths in alone])
        feats = torch.nn.utils.rnn.pad_sequence(
            [f[0, : int(n)] for (f, _), n in zip(alone, feats_lengths)], batch_first=True
        )
        with torch.no_grad():
            return self._encode_features(feats, feats_lengths, chunk_size, num_left_chunks)

    def _normalised_features(
        self, speech: torch.Tensor, lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Padded waveforms (B, S) -> the model's normalised features (B, T, F), lengths."""
        with torch.no_grad():
            feats, feats_lengths = self.model._extract_feats(speech, lengths)
            if self.model.normalize is not None:
                feats, feats_lengths = self.model.normalize(feats, feats_lengths)
        return feats, feats_lengths

    def batch_ctc_log_probs(self, encoder_out: torch.Tensor) -> torch.Tensor:
        """Encoder output (B, T, D) -> CTC log-probabilities (B, T, V)."""
        with torch.no_grad():
            return self.model.ctc.log_softmax(encoder_out)

    def _encode_features(
        self, feats: torch.Tensor, lengths: torch.Tensor, chunk_size: int, num_left_chunks: int
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        for part in ("preencoder", "postencoder"):
            if getattr(self.model, part, None) is not None:
                raise ValueError(f"a model with a {part}: not supported by the decoding modes")
        context = {}
        if isinstance(self.model.encoder, MoEConformerEncoder):
            context = {"chunk_size": chunk_size, "num_left_chunks": num_left_chunks}
        elif chunk_size:
            raise ValueError("chunk attention needs a u2pp_conformer encoder")
        encoder_out, encoder_lengths, _ = self.model.encoder(
            feats, lengths, ctc=self.model.ctc, **context
        )
        if isinstance(encoder_out, tuple):  # and the intermediate CTC outputs
            encoder_out = encoder_out[0]
        return encoder_out, encoder_lengths

    def features(self, samples: np.ndarray) -> np.ndarray:
        speech = torch.as_tensor(np.asarray(samples, dtype=np.float32))[None]
        feats, lengths = self._normalised_features(speech, torch.tensor([speech.shape[1]]))
        return feats[0, : int(lengths[0])].float().numpy()

    def encode(
        self, feats: np.ndarray, chunk_size: int = 0, num_left_chunks: int = -1
    ) -> np.ndarray:
        with torch.no_grad():
            encoder_out, _ = self._encode_features(
                torch.from_numpy(feats)[None], torch.tensor([len(feats)]), chunk_size,
                num_left_chunks,
            )  # fmt: skip
        return encoder_out.float().numpy()

    def ctc_log_probs(self, encoder_out: np.ndarray) -> np.ndarray:
        return self.batch_ctc_log_probs(torch.from_numpy(encoder_out))[0].float().numpy()

    def decoder_log_probs(
        self,
        encoder_out: np.ndarray,
        ys_in: np.ndarray,
        ys_in_lens: np.ndarray,
        r_ys_in: Optional[np.ndarray],
    ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        if self.decoder is None:
            raise ValueError("the model has no attention decoder")
        return teacher_forced_log_probs(self.decoder, encoder_out, ys_in, ys_in_lens, r_ys_in)

    def feature_stream(self) -> EagerFeatureStream:
        refuse_unstreamable_model(self.model)
        return EagerFeatureStream(self.model)

    def streaming_window(self, chunk_size: int) -> Tuple[int, int]:
        return self.model.encoder.streaming_window(chunk_size)

    def new_chunk_state(self) -> Tuple[int, Optional[StreamingState]]:
        """(encoder frames output, the encoder's caches) before a stream's first chunk."""
        refuse_unstreamable_model(self.model)
        return 0, None

    def encode_chunk(
        self,
        frames: np.ndarray,
        state: Tuple[int, Optional[StreamingState]],
        required_cache_size: int,
    ) -> Tuple[np.ndarray, Tuple[int, Optional[StreamingState]]]:
        offset, caches = state
        with torch.no_grad():
            encoded, caches = self.model.encoder.forward_chunk(
                torch.from_numpy(frames)[None], offset, required_cache_size, caches,
                self.model.ctc,
            )  # fmt: skip
        return encoded.float().numpy(), (offset + encoded.size(1), caches)


def teacher_forced_log_probs(
    decoder: torch.nn.Module,
    encoder_out: np.ndarray,
    ys_in: np.ndarray,
    ys_in_lens: np.ndarray,
    r_ys_in: Optional[np.ndarray],
) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """An ESPnet attention decoder teacher-forced on one utterance's encoder output
    (1, T, D): ``<sos>`` + tokens (N, L) -> log-probabilities (N, L, V), and with
    ``r_ys_in`` those of its right-to-left decoder (a ``BiTransformerDecoder``)."""
    memory = torch.from_numpy(encoder_out).expand(len(ys_in), -1, -1)
    memory_lens = torch.full((len(ys_in),), memory.size(1))
    ys_in_t, lens = torch.from_numpy(ys_in), torch.from_numpy(ys_in_lens)
    with torch.no_grad():
        if r_ys_in is not None:
            if not hasattr(decoder, "forward_bidirectional"):
                raise ValueError(
                    f"a right-to-left score needs a BiTransformerDecoder; "
                    f"{type(decoder).__name__} has none: use reverse_weight=0"
                )
            left, right, _ = decoder.forward_bidirectional(
                memory, memory_lens, ys_in_t, lens, torch.from_numpy(r_ys_in)
            )
            return _log_softmax(left), _log_softmax(right)
        left, _ = decoder(memory, memory_lens, ys_in_t, lens)
        return _log_softmax(left), None


def _log_softmax(logits: torch.Tensor) -> np.ndarray:
    return logits.float().log_softmax(dim=-1).numpy()
