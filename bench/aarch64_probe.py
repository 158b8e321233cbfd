"""Run the edgeasr runtime on WAVs and print what it did, as JSON (the aarch64 check's probe).

    python -m bench.aarch64_probe [--kernels optimized|reference] CONFIG WAV...

Imports only the runtime (edgeasr, numpy, tflite-runtime, ...), so that it runs in the bare
arm64 root of scripts/aarch64-root.sh as well as on the host.
"""

from __future__ import annotations

import json
import platform
import sys
import time

import numpy as np

from edgeasr.audio import read_wav
from edgeasr.recognizer import Recognizer


def main(argv: list[str]) -> int:
    kernels = "optimized"
    if argv[:1] == ["--kernels"] and len(argv) > 1:
        kernels, argv = argv[1], argv[2:]
    if len(argv) < 2:
        print("usage: python -m bench.aarch64_probe [--kernels optimized|reference] CONFIG "
              "WAV...", file=sys.stderr)
        return 2
    rec = Recognizer.from_config(argv[0], kernels=kernels)
    scale = float(rec.model._out_q[0]) or 1.0
    out = []
    t0 = time.perf_counter()
    for wav in argv[1:]:
        audio = read_wav(wav)
        result = rec.recognize(audio)
        logits = rec.model.logits(rec.model.features(audio))
        out.append({"wav": wav, "text": result.text, "intent": result.intent,
                    "telegrams": [t.to_json() for t in result.telegrams],
                    "confidence": result.confidence,
                    # the int8 output codes, for an LSB-exact comparison
                    "logit_codes": np.round(logits / scale).astype(int).tolist()})
    json.dump({"machine": platform.machine(), "python": platform.python_version(),
               "kernels": kernels,
               "numpy": np.__version__, "seconds": time.perf_counter() - t0,
               "results": out}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
