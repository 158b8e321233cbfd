# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up.
PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)/models:$(CURDIR)

.PHONY: setup demo test lint model eval latency bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) scripts/demo.py

test: setup
	$(PY) -m ruff check python tests models scripts bench
	$(PY) -m pytest -q tests

lint: setup
	$(PY) -m ruff check python tests models scripts bench

# Reproduce the shipped model (v31-pair-at-once: two networks that must agree, each trained on
# its own synthesis) from nothing: 77 minutes from a fresh clone on this 2-core machine, the
# two networks trained at once, one core each (README.md, session 36; more on cores shared
# with other jobs; how fast a machine trains: python -m bench.train_speed). --threshold, the
# noisy-room settings and the rival limit are written into models/edgeasr.json for the
# runtime: the dev-voice rules' choice for this model (docs/configuration.md), made after its
# training, so they are given here rather than computed.
model: setup
	cd models && ../$(PY) -m factory --preset hybrid-noisy-pair-apart --seed 1 --threshold 0.75 \
		--noise-allowance 0.15 --noisy-below-db 25 --noisy-outside-limit -0.5 --rival-limit 0.08

# Held-out evaluation (Piper joe voice, noise, non-commands) against pocketsphinx.
eval: setup
	$(PY) -m bench.eval

# Service latency on a real knxd: end of speech -> telegram on the bus (about 7 minutes).
latency: setup
	$(PY) -m bench.latency

# Benchmarks -> docs/benchmarks.md + docs/img/: accuracy vs SNR against pocketsphinx and
# Whisper tiny.en, cost per engine, NPU readiness, aarch64 check, model trade-off (47-57 minutes
# measured on 2 cores with the held-out clips already made; `make bench BENCH_ARGS=--quick`
# took 8 minutes; after a change to EdgeASR alone, BENCH_ARGS='--reuse pocketsphinx,whisper'
# takes the baselines' results from the last run: 13.8 minutes).
BENCH_ARGS ?=
bench: setup
	.venv/bin/pip install -q -e "python[dev,factory,bench]"
	$(PY) -m bench.benchmarks $(BENCH_ARGS)

clean:
	rm -rf .venv models/.cache .pytest_cache .ruff_cache
