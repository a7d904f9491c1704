"""Streaming recognition with a U2++ model: feed audio, read partial results, finalize."""

from typing import List, Optional

import numpy as np
import torch
from espnet2.asr.frontend.default import DefaultFrontend
from espnet2.layers.global_mvn import GlobalMVN

from espnet_omnirouter.asr.decoding.attention_rescoring import attention_rescoring
from espnet_omnirouter.asr.decoding.batch_search import ids_to_text
from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import (
    StreamingState,
    U2ppConformerEncoder,
)
from espnet_omnirouter.runtime.ctc_search import CTCPrefixBeamSearch


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
            "model cannot stream (train with causal: true)"
        )
    frontend = model.frontend
    if not isinstance(frontend, DefaultFrontend) or frontend.stft is None:
        raise TypeError("streaming computes features with ESPnet's default STFT frontend")
    enhancement = frontend.frontend
    if enhancement is not None and (enhancement.use_wpe or enhancement.use_beamformer):
        raise ValueError("frontend_conf.frontend_conf: WPE and beamforming do not stream")
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


class EagerStreamingRecognizer:
    """Recognise one audio stream chunk by chunk (U2++: WeNet's two-pass decoding).

    Audio arrives in pieces of any length. Feature frames are computed once the STFT
    window around them is complete, from the last window's worth of audio; the encoder
    runs ``U2ppConformerEncoder.forward_chunk`` on every full chunk (``chunk_size``
    encoder frames, ``num_left_chunks`` earlier chunks of attention context, -1 for all);
    the CTC prefix beam search advances over each chunk's frames and gives the partial
    result. ``finalize`` encodes the rest and, when the model has attention decoders,
    rescores the CTC n-best with them (``attention_rescoring``). The final text equals
    offline decoding of the whole utterance with the same chunk mask, whatever was
    streamed before.

    Memory: the audio and feature buffers hold about one chunk, the attention caches
    ``chunk_size * num_left_chunks`` frames (all earlier frames with -1) and the search
    its beams; a model with attention decoders also keeps the stream's encoder output
    for rescoring (frames x ``output_size``). Streams of any length work (positions are
    a function of the frame index); for long recordings call ``finalize`` at pauses so
    that rescoring sees utterance-sized inputs.

    Args:
        speech2text: ESPnet ``Speech2Text`` of a model with a causal
            ``U2ppConformerEncoder``, ESPnet's default (STFT) frontend and global or no
            feature normalisation (``refuse_unstreamable_model``).
        chunk_size: encoder frames per chunk (after subsampling), >= 1.
        num_left_chunks: earlier chunks each chunk attends to (-1: all).
        beam_size: CTC prefix beam size (also the n-best size that is rescored).
        ctc_weight: weight of the CTC score in attention rescoring.
        reverse_weight: weight of the right-to-left decoder in attention rescoring
            (default: the model's).

    Usage::

        recognizer = EagerStreamingRecognizer(speech2text, chunk_size=16)
        for samples in microphone:           # 1-D float arrays at the model's rate
            print(recognizer.accept_waveform(samples))
        print(recognizer.finalize())         # then the recognizer is ready for a new stream
    """

    def __init__(
        self,
        speech2text,
        chunk_size: int = 16,
        num_left_chunks: int = -1,
        beam_size: int = 10,
        ctc_weight: float = 0.5,
        reverse_weight: Optional[float] = None,
    ):
        self.speech2text, self.model = speech2text, speech2text.asr_model
        refuse_unstreamable_model(self.model)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.encoder: U2ppConformerEncoder = self.model.encoder
        self.chunk_size, self.num_left_chunks = chunk_size, num_left_chunks
        self.beam_size, self.ctc_weight = beam_size, ctc_weight
        self.rescores = getattr(self.model, "decoder", None) is not None
        self.reverse_weight = (
            getattr(self.model, "reverse_weight", 0.0) if reverse_weight is None else reverse_weight
        )
        self.window, self.stride = self.encoder.streaming_window(chunk_size)
        stft = self.model.frontend.stft
        self.hop_length, self.n_fft = stft.hop_length, stft.n_fft
        # Frame k of a signal reads samples k * hop - pad .. k * hop - pad + n_fft - 1.
        self.pad = stft.n_fft // 2 if stft.center else 0
        self.reset()

    def reset(self) -> None:
        """Forget the current stream."""
        self.audio = np.zeros(0, dtype=np.float32)  # the stream from sample audio_start on
        self.audio_start = 0  # a multiple of the hop length
        self.frames_taken = 0  # feature frames moved to ``pending``
        self.pending: Optional[torch.Tensor] = None  # features from the next chunk's start
        self.state: Optional[StreamingState] = None
        self.offset = 0  # encoder frames output
        self.encoded: List[torch.Tensor] = []  # encoder output per chunk, kept for rescoring
        self.search = CTCPrefixBeamSearch(self.beam_size, self.model.blank_id)

    def accept_waveform(self, samples: np.ndarray) -> str:
        """Add audio (1-D float samples); returns the best hypothesis so far."""
        self.audio = np.concatenate([self.audio, np.asarray(samples, dtype=np.float32)])
        self._encode(final=False)
        return ids_to_text(self.speech2text, self.search.nbest()[0][0]) if self.offset else ""

    def flush(self) -> None:
        """End of stream: encode the frames left (``finalize`` does it first)."""
        self._encode(final=True)

    @property
    def encoder_out(self) -> torch.Tensor:
        """(1, frames, size) encoder output of the stream so far (models with decoders)."""
        return torch.cat(self.encoded, dim=1)

    def finalize(self) -> str:
        """Encode what is left, rescore, return the final text and reset."""
        self.flush()
        text = ""
        if self.offset:
            nbest = self.search.nbest()
            best = nbest[0][0]
            if self.rescores:
                with torch.no_grad():
                    best, _ = attention_rescoring(
                        self.model.decoder, self.encoder_out, nbest,
                        self.model.sos, self.model.eos, self.ctc_weight, self.reverse_weight,
                    )  # fmt: skip
            text = ids_to_text(self.speech2text, best)
        self.reset()
        return text

    def _stable_features(self, final: bool) -> Optional[torch.Tensor]:
        """Feature frames not yet taken whose STFT window lies inside the audio received
        (all of them when the stream has ended), normalised as the model does. Only the
        audio that later frames still read is kept."""
        if len(self.audio) <= self.pad or len(self.audio) + self.pad < self.n_fft:
            return None  # no frame yet (and too little audio to pad by reflection)
        total = self.audio_start + len(self.audio)
        speech = torch.from_numpy(self.audio)[None]
        with torch.no_grad():
            feats, lengths = self.model.frontend(speech, torch.tensor([len(self.audio)]))
            if self.model.normalize is not None:
                feats, lengths = self.model.normalize(feats, lengths)
        first = self.audio_start // self.hop_length  # the buffer's frame 0
        ready = (
            first + feats.size(1)
            if final
            else (total + self.pad - self.n_fft) // self.hop_length + 1
        )
        new = feats[:, self.frames_taken - first : ready - first]
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

    def _encode(self, final: bool) -> None:
        new = self._stable_features(final)
        if new is not None and new.size(1) > 0:
            self.pending = new if self.pending is None else torch.cat([self.pending, new], dim=1)
        required = self.chunk_size * self.num_left_chunks if self.num_left_chunks >= 0 else -1
        # Full windows while streaming; at the end, every window start the offline
        # chunk-by-chunk loop would visit (more than the right context left).
        minimum = self.encoder.right_context + 1 if final else self.window
        while self.pending is not None and self.pending.size(1) >= minimum:
            with torch.no_grad():
                encoded, self.state = self.encoder.forward_chunk(
                    self.pending[:, : self.window], self.offset, required, self.state,
                    self.model.ctc,
                )  # fmt: skip
                log_probs = self.model.ctc.log_softmax(encoded)[0]
            self.search.advance(log_probs.float().cpu().numpy())
            self.offset += encoded.size(1)
            if self.rescores:
                self.encoded.append(encoded)
            self.pending = self.pending[:, self.stride :]
