"""`python -m bench.early_decisions`: what acting in a pause costs in wrong telegrams.

Each clip is replayed frame by frame through the service's endpointer and the pipeline's
own rule (``Pipeline.decide_in_pause``), as ``edgeasr serve`` would hear it, except that a
decode started in a pause is taken to be ready two frames (40 ms) later, so the result does
not depend on this machine's speed. Per decision policy it counts the commands that sent
exactly the right telegrams, something wrong, or nothing, how many were decided in a
pause, and the median time from the end of speech (as `make latency` measures it) to the
decision (a replayed latency: no decode time beyond those 40 ms, no KNX). Meant for dev
voices (``--dev-voice``, as in ``bench.eval``): pick a policy here, then
measure the held-out voice once with ``make latency``.

    PYTHONPATH=models .venv/bin/python -m bench.early_decisions \\
        --dev-voice flite:awb flite:rms festival:ked_diphone
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.dataset import Clip, HeldoutAudio, make_clips, spread
from bench.latency import speech_end_frame
from bench.synth import TrainingVoice
from edgeasr.capture import FRAME
from edgeasr.features import frame_db
from edgeasr.grammar import load_building_grammar
from edgeasr.pipeline import Heard, Mode, PauseStepper, Pipeline, PipelineConfig
from edgeasr.recognizer import Recognizer
from edgeasr.vad import VadConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "demo-building.yaml"
RESULTS = ROOT / "bench" / "results" / "early_decisions.json"
DECODE_FRAMES = 2  # a decode started in a pause is used this many frames later

_NO_PEAK = {"peak_drop_db": None}  # the endpointer before its peak rule became the default
POLICIES: dict[str, PipelineConfig] = {
    "end of utterance only": PipelineConfig(
        Mode.ALWAYS, vad=VadConfig(early_silence_s=0.0, settled_silence_s=0.0, **_NO_PEAK)),
    # What the service did before settled results existed: any accepted decode, 160 ms.
    "any accepted result after 160 ms": PipelineConfig(
        Mode.ALWAYS, early_confidence=0.5, vad=VadConfig(settled_silence_s=0.16, **_NO_PEAK)),
    "0.8 after 60 ms only": PipelineConfig(
        Mode.ALWAYS, pause_confidence=0.8, vad=VadConfig(**_NO_PEAK)),
    "0.8 settled after 60 ms, 0.75 after 160 ms": PipelineConfig(
        Mode.ALWAYS, early_confidence=0.8, pause_confidence=0.75, vad=VadConfig(**_NO_PEAK)),
    # The earlier defaults: they cut weak final fricatives ("off" heard as "on").
    "the same, quiet also 30 dB under the peak": PipelineConfig(
        Mode.ALWAYS, vad=VadConfig(peak_drop_db=30.0, fricative_zcr=None)),
    "the same, quiet also 40 dB under the peak": PipelineConfig(
        Mode.ALWAYS, vad=VadConfig(fricative_zcr=None)),
    "default (the same, except fricatives)": PipelineConfig(Mode.ALWAYS),
}


@dataclass
class Outcome:
    heard: Heard | None
    in_pause: bool
    after_speech_s: float  # from the end of speech (speech_end_frame) to the decision
    # In a pause: the quiet its rule waited for (Pipeline.pause_wait: the settled rule's
    # short one, or the pause rule's).
    quiet_ms: int | None = None


class _Replayed:
    """A decode that is ready ``DECODE_FRAMES`` frames after it started."""

    def __init__(self, heard: Heard, ready_at: int, clock: list[int]) -> None:
        self.heard, self.ready_at, self.clock = heard, ready_at, clock

    def done(self) -> bool:
        return self.clock[0] >= self.ready_at

    def result(self) -> Heard:
        return self.heard


def room(audio: np.ndarray, seconds: float = 1.0) -> np.ndarray:
    """What the room sounds like around a clip: its quietest tenth of 20 ms frames, in their
    order, repeated to ``seconds``. A TV on before and after the command, as in a living
    room; near silence for a clean clip. (Digital silence around a TV-noise clip made the TV
    start with the command, and the recogniser, which hears the room in the 0.3 s before
    the onset, took the room for a quiet one: no noise allowance in the replay.)"""
    frames = audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME)
    if len(frames) == 0:
        return np.full(int(16000 * seconds), 1e-5, np.float32)
    quietest = np.argsort(frame_db(audio, FRAME))[: max(1, len(frames) // 10)]
    bed = frames[np.sort(quietest)].reshape(-1)
    return np.resize(bed, int(16000 * seconds)).astype(np.float32)


def replay(pipeline: Pipeline, audio: np.ndarray) -> Outcome:
    """The decision the service would take for one clip with 1 s of its room around it."""
    quiet = room(audio)
    stream = np.concatenate([quiet, audio, quiet])
    clock = [0]  # the frame being pushed

    def submit(so_far: np.ndarray) -> _Replayed:
        return _Replayed(pipeline._evaluate(so_far), clock[0] + DECODE_FRAMES, clock)

    # The end of the last frame of speech, in frames of the stream.
    speech_end = (len(quiet) // FRAME) + speech_end_frame(audio) + 1
    stepper = PauseStepper(pipeline, submit)
    for i in range(len(stream) // FRAME):
        clock[0] = i
        got = stepper.push(stream[i * FRAME : (i + 1) * FRAME])
        after = (i + 1 - speech_end) * FRAME / 16000
        if isinstance(got, Heard):
            wait = pipeline.pause_wait(got)
            return Outcome(got, True, after, None if wait is None else round(1000 * wait))
        if got is not None:
            return Outcome(pipeline._evaluate(got), False, after)
    tail = stepper.flush()
    after = (len(stream) // FRAME - speech_end) * FRAME / 16000
    return Outcome(pipeline._evaluate(tail) if tail is not None else None, False, after)


def score(clip: Clip, outcome: Outcome) -> str:
    heard = outcome.heard
    if heard is None or not heard.acted:
        return "nothing"
    return "right" if heard.result.telegrams == list(clip.reference) else "wrong"


def clip_record(voice: str, condition: str, policy: str, clip: Clip, outcome: Outcome,
                verdict: str) -> dict:
    """One clip's outcome under one policy, for checking decisions one by one."""
    heard = outcome.heard
    result = heard.result if heard is not None else None
    return {"voice": voice, "condition": condition, "policy": policy, "text": clip.text,
            "verdict": verdict, "in_pause": outcome.in_pause, "quiet_ms": outcome.quiet_ms,
            "ms_after_speech": round(1000 * outcome.after_speech_s),
            "heard": result.text if result is not None else None,
            "decoded_ms": round(len(heard.audio) / 16) if heard is not None else None,
            "confidence": round(result.confidence, 3) if result is not None else None}


def _confidences(text: str) -> tuple[float, float]:
    """``EARLY/PAUSE``, two confidences from 0 to 1."""
    try:
        early, pause = (float(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected EARLY/PAUSE, two confidences such as 0.8/0.75") from None
    if not (0 <= early <= 1 and 0 <= pause <= 1):
        raise argparse.ArgumentTypeError(f"{text!r}: confidences go from 0 to 1")
    return early, pause


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.early_decisions", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev-voice", nargs="+", required=True, metavar="ENGINE:VOICE")
    ap.add_argument("--conditions", default="clean,snr10,reverb")
    ap.add_argument("--count", type=int, default=100, help="commands per voice and condition")
    ap.add_argument("--model", type=Path, help="TFLite model (default: the shipped one)")
    ap.add_argument("--json", type=Path, default=RESULTS)
    ap.add_argument("--policies", nargs="+", metavar="NAME",
                    help="policies to replay (default: all, or none with --confidences): "
                         + "; ".join(POLICIES))
    ap.add_argument("--confidences", nargs="+", metavar="EARLY/PAUSE", type=_confidences,
                    help="the default policy with other confidences: early_confidence (a "
                         "settled result, after the short quiet) / pause_confidence (any, after "
                         "the longer one), e.g. 0.8/0.75 0.7/0.7")
    ap.add_argument("--clips", type=Path, metavar="JSONL",
                    help="also write every clip's outcome per policy, one JSON line each "
                         "(what was heard, when, against the reference)")
    args = ap.parse_args(argv)
    policies = {} if args.confidences else POLICIES
    if args.policies:
        unknown = [n for n in args.policies if n not in POLICIES]
        if unknown:
            ap.error(f"--policies: unknown {', '.join(map(repr, unknown))}; expected some of: "
                     + "; ".join(POLICIES))
        policies = {n: POLICIES[n] for n in args.policies}
    for early, pause in args.confidences or []:
        policies[f"default, settled {early:g}, any {pause:g}"] = replace(
            PipelineConfig(Mode.ALWAYS), early_confidence=early, pause_confidence=pause)
    logging.basicConfig(level=logging.WARNING)
    grammar = load_building_grammar(CONFIG)
    from factory.heldout import command_texts

    clips = spread(make_clips(grammar, command_texts(grammar.graph), []), args.count)
    recognizer = Recognizer.from_config(CONFIG, args.model)
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    totals: dict[str, Counter[str]] = {name: Counter() for name in policies}
    # Right decisions made in a pause, by the quiet their rule waited for (ms).
    right_quiet: dict[str, Counter[int]] = {name: Counter() for name in policies}
    per_clip = args.clips.open("w") if args.clips else None
    latencies: dict[str, list[float]] = {}  # end of speech -> decision, right telegrams
    rows = []
    for spec in args.dev_voice:
        audio = HeldoutAudio(voice=TrainingVoice(spec))
        for condition in conditions:
            pcm = [audio.load(c, condition) for c in clips]
            for name, cfg in policies.items():
                counts: Counter[str] = Counter()
                waits = latencies.setdefault(name, [])
                here: list[float] = []  # this voice and condition's, for its row
                for clip, x in tqdm(list(zip(clips, pcm, strict=True)),
                                    desc=f"{spec} {condition} {name}", unit="clip",
                                    leave=False):
                    pipeline = Pipeline(recognizer, cfg)
                    outcome = replay(pipeline, x)
                    verdict = score(clip, outcome)
                    counts[verdict] += 1
                    counts["decided in a pause"] += outcome.in_pause
                    if outcome.in_pause and verdict == "right":
                        counts[f"right after {outcome.quiet_ms} ms of quiet"] += 1
                        right_quiet[name][outcome.quiet_ms or 0] += 1
                    if verdict == "right":
                        waits.append(outcome.after_speech_s)
                        here.append(outcome.after_speech_s)
                    if per_clip:
                        per_clip.write(json.dumps(clip_record(
                            spec, condition, name, clip, outcome, verdict)) + "\n")
                totals[name].update(counts)
                # Per row too: pooled, the median mixes clean clips with noisy ones, whose
                # measured end of speech can lie in the noise or the reverberant tail.
                rows.append({"voice": spec, "condition": condition, "policy": name, **counts,
                             "median_ms_after_speech_right":
                                 round(1000 * float(np.median(here)), 1) if here else None})
                print(f"{spec:34s} {condition:7s} {name:42s} right {counts['right']:3d}  "
                      f"wrong {counts['wrong']:3d}  nothing {counts['nothing']:3d}  "
                      f"in a pause {counts['decided in a pause']:3d}  median after speech "
                      f"{rows[-1]['median_ms_after_speech_right']} ms")
    if per_clip:
        per_clip.close()
    print("\nall voices and conditions:")
    medians = {name: round(1000 * float(np.median(v)), 1) if v else None
               for name, v in latencies.items()}
    for name, c in totals.items():
        split = ", ".join(f"{n} after {ms} ms of quiet"
                          for ms, n in sorted(right_quiet[name].items()))
        print(f"  {name:42s} right {c['right']:4d}  wrong {c['wrong']:4d}  "
              f"nothing {c['nothing']:4d}  in a pause {c['decided in a pause']:4d}  "
              f"median after speech {medians[name]} ms"
              + (f"  (right in a pause: {split})" if split else ""))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "command": "python -m bench.early_decisions --dev-voice " + " ".join(args.dev_voice)
                   + f" --conditions {','.join(conditions)} --count {args.count}"
                   + "".join(f" {e:g}/{p:g}" if i else f" --confidences {e:g}/{p:g}"
                             for i, (e, p) in enumerate(args.confidences or [])),
        "decode_frames": DECODE_FRAMES, "rows": rows,
        "median_ms_after_speech_right": medians,
        "totals": {k: dict(v) for k, v in totals.items()}}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
