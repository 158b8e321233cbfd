"""``python -m factory``: reproduce the shipped model from nothing.

Stages (each with a progress bar): sentences -> synthesis + augmentation -> CTC training ->
int8 export -> check on a synthetic dev set of unseen sentences -> model card.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from factory.train import ModelShape

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Preset:
    sentences: int
    copies: int
    dev_sentences: int
    shape: ModelShape
    epochs: int
    batch_frames: int


PRESETS = {
    # What the tests run: the same pipeline end to end, in about a minute.
    "tiny": Preset(sentences=48, copies=1, dev_sentences=8, shape=ModelShape(16, 1, 5),
                   epochs=1, batch_frames=4000),
    "full": Preset(sentences=9000, copies=2, dev_sentences=300,
                   shape=ModelShape(192, 10, 9), epochs=14, batch_frames=16000),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m factory", description=__doc__)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="full")
    ap.add_argument("--config", type=Path, default=REPO / "examples/demo-building.yaml")
    ap.add_argument("--out", type=Path, default=REPO / "models")
    ap.add_argument("--cache", type=Path, default=REPO / "models/.cache",
                    help="where synthesised data is kept between runs")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, help="override the preset's epoch count")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    preset = PRESETS[args.preset]
    epochs = args.epochs or preset.epochs
    t0 = time.time()

    from edgeasr.grammar import load_building_grammar
    from factory import corpus, dataset, export, heldout, train

    grammar = load_building_grammar(args.config)
    held = heldout.evaluation_texts(grammar.graph)
    args.cache.mkdir(parents=True, exist_ok=True)
    cache = args.cache / (f"data-{args.preset}-{preset.sentences}x{preset.copies}"
                          f"-{args.seed}.pkl")
    if cache.exists():
        logging.info("reusing synthesised data from %s", cache)
        examples, dev = pickle.loads(cache.read_bytes())
    else:
        sents = corpus.sentences(grammar.graph, preset.sentences, args.seed, held)
        examples = dataset.build(sents, preset.copies, args.seed, args.workers)
        dev_sents = corpus.sentences(grammar.graph, preset.dev_sentences, args.seed + 7919,
                                     held | {t for _, t in sents})
        dev = dataset.build(dev_sents, 1, args.seed + 7919, args.workers, desc="dev set")
        cache.write_bytes(pickle.dumps((examples, dev)))
    t_data = time.time() - t0

    model = train.train(examples, preset.shape, epochs, args.seed,
                        batch_frames=preset.batch_frames)
    t_train = time.time() - t0 - t_data
    calib = [e.feats for e in examples[:: max(1, len(examples) // 200)]]
    tflite = export.to_tflite(model, preset.shape, calib)
    args.out.mkdir(parents=True, exist_ok=True)
    model_path = args.out / "edgeasr.tflite"
    model_path.write_bytes(tflite)
    ops = export.graph_report(tflite)

    from factory import card, devcheck

    dev_result = devcheck.run(model_path, dev, args.config)
    meta = {
        "preset": args.preset, "seed": args.seed, "epochs": epochs,
        "shape": asdict(preset.shape), "train_examples": len(examples),
        "train_sentences": preset.sentences, "copies": preset.copies,
        "voices": sorted({e.voice for e in examples}),
        "seconds": {"data": round(t_data), "train": round(t_train),
                    "total": round(time.time() - t0)},
        "ops": ops, "dev": dev_result, "size_bytes": len(tflite),
    }
    (args.out / "model-meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    card.write(args.out / "MODEL_CARD.md", meta)
    logging.info("wrote %s (%d bytes) in %.0f s", model_path, len(tflite), time.time() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
