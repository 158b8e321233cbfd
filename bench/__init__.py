"""Held-out evaluation of EdgeASR against pocketsphinx (``make eval``).

The Piper joe voice speaks the held-out sentences of ``factory.heldout`` under four acoustic
conditions; both engines hear the same clips. The joe voice is evaluation-only: nothing here
feeds training, calibration or threshold choice.
"""
