"""EdgeASR: offline speech-to-intent for KNX buildings.

Data flows one way: audio -> features -> acoustic model -> decoder -> intent -> telegrams.
"""

from edgeasr.recognizer import Recognizer, Result

__all__ = ["Recognizer", "Result"]
__version__ = "0.1.0"
