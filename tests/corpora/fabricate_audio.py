"""Speech for fabricated corpora: espeak-ng sentences at a corpus's sample rate."""

import io
import subprocess
from math import gcd

import numpy as np
import soundfile
from scipy.signal import resample_poly


def speak(text: str, sample_rate: int) -> np.ndarray:
    """``text`` spoken by espeak-ng (22.05 kHz), resampled to ``sample_rate``: (samples,)
    float32 in [-1, 1]."""
    wav = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True).stdout
    audio, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    common = gcd(rate, sample_rate)
    audio = resample_poly(audio, sample_rate // common, rate // common)
    return np.clip(audio, -1.0, 1.0).astype(np.float32)
