"""The model factory: synthesise speech, augment, train, quantise, evaluate, document.

Run it with ``make model`` (full) or ``python -m factory --preset tiny`` (what the tests run).
Nothing here ships on the board; the runtime lives in the ``edgeasr`` package.
"""
