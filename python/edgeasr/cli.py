"""``edgeasr`` command line: ``transcribe`` (the contract in docs/demo-building.md), ``check``,
``serve`` and ``import-ets``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from edgeasr.acoustic import KERNELS, ModelError
from edgeasr.audio import AudioError, read_pcm, read_wav
from edgeasr.building import ConfigError
from edgeasr.recognizer import Recognizer, Result

log = logging.getLogger("edgeasr")


def _result_json(name: str, result: Result, with_slots: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"file": name, "text": result.text, "intent": result.intent}
    if with_slots:
        out["slots"] = result.slots if result.accepted else {}
    else:
        out["telegrams"] = [t.to_json() for t in result.telegrams]
    out["confidence"] = round(result.confidence, 3)
    return out


def _human(name: str, result: Result, with_slots: bool) -> str:
    if not result.accepted:
        heard = f'heard "{result.text}"' if result.text else "heard nothing"
        return f"{name}: no command ({heard}, confidence {result.confidence:.2f})"
    what = (
        json.dumps(result.slots)
        if with_slots
        else ", ".join(f"{t.ga} ({t.dpt}) <- {json.dumps(t.value)}" for t in result.telegrams)
    )
    conf = f"confidence {result.confidence:.2f}"
    return f'{name}: "{result.text}" -> {result.intent}: {what} ({conf})'


def cmd_transcribe(args: argparse.Namespace) -> int:
    try:
        if args.context:
            rec = Recognizer.from_context(args.context, args.model, args.threshold,
                                           kernels=args.kernels)
        else:
            rec = Recognizer.from_config(args.config, args.model, args.threshold,
                                          kernels=args.kernels)
    except (ConfigError, ModelError, ValueError) as exc:
        print(f"edgeasr: {exc}", file=sys.stderr)
        return 2
    status = 0
    for name in args.files:
        t0 = time.perf_counter()
        try:
            pcm = read_pcm(sys.stdin.buffer.read()) if name == "-" else read_wav(name)
        except AudioError as exc:
            status = 1
            print(json.dumps({"file": name, "error": str(exc)}) if args.json
                  else f"{name}: error: {exc}", flush=True)
            continue
        result = rec.recognize(pcm)
        log.debug("%s: %.1f ms %s", name, 1000 * (time.perf_counter() - t0), result.timings)
        line = (json.dumps(_result_json(name, result, bool(args.context))) if args.json
                else _human(name, result, bool(args.context)))
        print(line, flush=True)
    return status


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a building config and report the compiled grammar's size."""
    from edgeasr.decoder import PhoneGraph
    from edgeasr.grammar import load_building_grammar, load_context_grammar

    try:
        t0 = time.perf_counter()
        grammar = (load_context_grammar(args.context) if args.context
                   else load_building_grammar(args.config))
        t1 = time.perf_counter()
        pg = PhoneGraph(grammar.graph)
    except (ConfigError, ValueError) as exc:
        print(f"edgeasr: {exc}", file=sys.stderr)
        return 2
    g = grammar.graph
    print(f"{args.context or args.config}: ok — {len(g.words)} words, {len(g.src)} word arcs, "
          f"{pg.n_states} decoder states; compiled in {1000 * (t1 - t0):.1f} ms")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the voice-to-KNX service until SIGTERM."""
    import asyncio

    from pydantic import ValidationError

    from edgeasr.button import ButtonError
    from edgeasr.service import (
        AudioConfig,
        Service,
        load_service_config,
        service_config_for_building,
    )

    try:
        if args.service:
            cfg = load_service_config(args.service, args.config)
        elif args.config:
            cfg = service_config_for_building(args.config)
        else:
            print("edgeasr: serve needs --config BUILDING.yaml or --service SERVICE.yaml",
                  file=sys.stderr)
            return 2
        if args.input:
            cfg.audio = AudioConfig(source="file", files=args.input, realtime=not args.fast)
        elif args.source:
            cfg.audio.source = args.source
        if args.mode:  # validated again: push_to_talk needs a button in the service file
            try:
                cfg.listen = type(cfg.listen).model_validate(
                    {**cfg.listen.model_dump(), "mode": args.mode})
            except ValidationError as exc:
                msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
                raise ValueError(f"--mode {args.mode}: {msg}") from None
        service = Service(cfg)
    except (ConfigError, ModelError, ValueError, ButtonError) as exc:
        print(f"edgeasr: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(service.run())


def cmd_import_ets(args: argparse.Namespace) -> int:
    """ETS project -> building YAML, plus a report of what could not be mapped."""
    from edgeasr.ets import EtsImportError, check_rendered, import_ets, render_yaml

    password = args.password
    if args.password_file is not None:
        try:
            password = args.password_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            print(f"edgeasr: {args.password_file}: cannot read the project password: {exc}",
                  file=sys.stderr)
            return 2
    if args.output is not None and args.output.exists() and not args.force:
        print(f"edgeasr: {args.output} exists; use --force to overwrite it", file=sys.stderr)
        return 2
    if not args.verbose:  # its warnings are about product databases we do not use
        logging.getLogger("xknxproject").setLevel(logging.ERROR)
    try:
        result = import_ets(args.project, password, args.language)
        text = render_yaml(result, args.project.name)
        check_rendered(text)
    except (EtsImportError, ConfigError) as exc:
        print(f"edgeasr: {exc}", file=sys.stderr)
        return 2
    report = sys.stderr if args.output is None else sys.stdout
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    where = args.output or "standard output"
    print(f"{args.project}: {result.rooms} rooms, {result.devices} devices, "
          f"{result.addresses} group addresses -> {where}", file=report)
    if result.unmapped:
        print(f"not imported ({len(result.unmapped)}):", file=report)
        for u in result.unmapped:
            print(f"  - {u}", file=report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="edgeasr", description="Offline speech-to-intent for KNX.")
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = ap.add_subparsers(dest="command", required=True)

    def grammar_args(p: argparse.ArgumentParser) -> None:
        src = p.add_mutually_exclusive_group(required=True)
        src.add_argument("--config", type=Path, help="building configuration YAML")
        src.add_argument("--context", type=Path,
                         help="Picovoice Rhino context YAML (prints intent and slots)")

    t = sub.add_parser("transcribe", help="recognise commands in WAV files (or - for stdin)")
    grammar_args(t)
    t.add_argument("--json", action="store_true", help="one JSON object per file")
    t.add_argument("--model", type=Path, help="TFLite model (default: the shipped one)")
    t.add_argument("--threshold", type=float,
                   help="minimum confidence to act "
                   "(default: the config's, else the model's own, from its edgeasr.json)")
    t.add_argument("--kernels", choices=KERNELS, default="optimized",
                   help="TFLite CPU kernels: 'reference' is slow but gives, on any machine, "
                   "the results of the board's CPU (default: optimized)")
    t.add_argument("files", nargs="+", help="WAV files; '-' reads raw 16 kHz s16le mono PCM")
    t.set_defaults(func=cmd_transcribe)

    s = sub.add_parser("serve", help="listen and send KNX telegrams (the service)")
    s.add_argument("--config", type=Path, help="building configuration YAML")
    s.add_argument("--service", type=Path,
                   help="service YAML (audio source, listening mode, KNX connection)")
    s.add_argument("--source", choices=["alsa", "file", "stdin"], help="override audio source")
    s.add_argument("--input", type=Path, nargs="+", help="WAV files or playlists to listen to")
    s.add_argument("--fast", action="store_true", help="with --input: do not pace in real time")
    s.add_argument("--mode", choices=["wake", "always", "push_to_talk"],
                   help="override the listening mode")
    s.set_defaults(func=cmd_serve)

    e = sub.add_parser("import-ets", help="building YAML from an ETS project (.knxproj)")
    e.add_argument("project", type=Path, help="ETS 4/5/6 project export (.knxproj)")
    pw = e.add_mutually_exclusive_group()
    pw.add_argument("--password", help="project password (ETS 5/6 protected projects)")
    pw.add_argument("--password-file", type=Path, help="read the password from this file")
    e.add_argument("--language", help="ETS translation to use for names, e.g. en-US, de-DE")
    e.add_argument("-o", "--output", type=Path, help="building YAML to write (default: stdout)")
    e.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    e.set_defaults(func=cmd_import_ets)

    c = sub.add_parser("check", help="validate a configuration and compile its grammar")
    grammar_args(c)
    c.set_defaults(func=cmd_check)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    default = logging.INFO if args.command == "serve" else logging.WARNING
    logging.basicConfig(level=logging.DEBUG if args.verbose else default,
                        format="%(levelname)s %(name)s: %(message)s")
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
