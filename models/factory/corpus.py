"""Training sentences: building commands, commands for rooms the demo lacks, and chatter.

Commands come from the compiled grammar itself (so every phrasing the decoder accepts is
spoken in training), with room names swapped for others so the model learns phones, not a
closed word list. Sentences of the evaluation set are removed (see ``heldout``).
"""

from __future__ import annotations

import random
import re

from edgeasr.grammar.graph import WordGraph

OTHER_ROOM_LIST = [
    "garage", "attic", "basement", "study", "nursery", "guest room", "dining room", "laundry",
    "pantry", "cellar", "porch", "patio", "library", "lounge", "den", "playroom", "gym",
    "studio", "workshop", "terrace", "balcony", "conservatory", "utility room", "cloakroom",
    "loft", "foyer", "corridor", "staircase", "garden shed", "sauna", "kids room",
    "master bedroom", "games room", "reading room", "spare room", "boiler room", "toilet",
    "closet", "landing", "veranda",
]
DEMO_ROOMS = ["living room", "kitchen", "bedroom", "office", "bathroom", "hallway"]

# Chatter for the model to hear (not used for the rejection evaluation, which has its own).
_SUBJECTS = ["I", "we", "you", "they", "my sister", "the neighbour", "our dog", "the kids",
             "my boss", "the doctor", "somebody", "the weather man", "grandma", "the team"]
_VERBS = ["think", "said", "want to know", "forgot", "remember", "heard", "believe",
          "wonder", "asked", "told me", "mentioned", "noticed", "decided", "promised"]
_TAILS = [
    "the train was late again this morning", "dinner will be ready in ten minutes",
    "the match starts at eight", "it might rain tomorrow afternoon",
    "the shop closes early on sunday", "we need more milk and bread",
    "that film was far too long", "the car needs new tyres", "she is moving to boston",
    "the meeting moved to thursday", "nobody watered the plants", "the cat is sleeping",
    "my phone battery is almost empty", "the football results were surprising",
    "the bank sent another letter", "the kettle is broken", "there is a package at the door",
    "the garden looks lovely in spring", "he plays the guitar every evening",
    "they painted the fence green", "the children are doing their homework",
    "the price of coffee went up", "we should visit the museum", "the soup needs salt",
    "the bus driver was very friendly", "my brother bought a bicycle",
    "the concert was sold out", "the report is due on friday", "the window is stuck",
    "the television is too loud", "the pizza arrives in half an hour",
    "what time is it", "how was your day", "where are my keys", "did you lock the car",
    "can you hear me", "is it cold outside", "who is calling so late",
    "which bus goes to the station", "why is the sky blue", "when does the game start",
]
_WORDS = [
    "apple", "river", "mountain", "quick", "yellow", "seven", "history", "quiet", "morning",
    "engine", "paper", "silver", "table", "window", "button", "garden", "ocean", "pencil",
    "rabbit", "thunder", "number", "letter", "castle", "ribbon", "jungle", "pocket", "basket",
    "feather", "copper", "wonder", "yesterday", "tomorrow", "bright", "shadow", "whisper",
    "orange", "purple", "violet", "marble", "candle", "winter", "summer", "autumn", "spring",
    "market", "station", "harbor", "village", "doctor", "teacher", "farmer", "pilot", "sailor",
    "painter", "singer", "dancer", "driver", "baker", "butcher", "hammer", "ladder", "mirror",
    "pillow", "blanket", "jacket", "sweater", "trousers", "boots", "gloves", "scarf",
    "chocolate", "vanilla", "butter", "cheese", "pepper", "onion", "carrot", "potato",
    "tomato", "lemon", "cherry", "banana", "elephant", "tiger", "monkey", "zebra", "giraffe",
    "penguin", "dolphin", "eagle", "falcon", "sparrow", "turtle", "frog", "computer",
    "printer", "keyboard", "speaker", "camera", "battery", "charger", "cable", "signal",
    "network", "message", "thirty", "forty", "fifty", "hundred", "thousand", "million",
    "first", "second", "third", "fourth", "fifth", "sixth", "open", "close", "start", "stop",
    "raise", "lower", "turn", "switch", "set", "make", "dim", "brighten", "activate", "please",
    "light", "lights", "blinds", "heating", "fan", "scene", "movie", "night", "morning",
    "good", "temperature", "degrees", "percent", "all", "off", "on", "up", "down", "half",
    "and", "the", "to", "in", "of", "a", "is", "it", "what", "how", "why",
]


def chatter(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        return f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_TAILS)}".lower()
    if r < 0.7:
        return rng.choice(_TAILS)
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 10)))


def swap_room(text: str, rng: random.Random) -> str:
    for room in DEMO_ROOMS:
        if re.search(rf"\b{room}\b", text):
            return re.sub(rf"\b{room}\b", rng.choice(OTHER_ROOM_LIST), text, count=1)
    return text


def sentences(graph: WordGraph, n: int, seed: int, heldout: set[str]) -> list[tuple[str, str]]:
    """``n`` (kind, text) pairs; kind is 'command', 'other-room' or 'chatter'."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    while len(out) < n:
        r = rng.random()
        if r < 0.55:
            kind, text = "command", graph.sample(rng).text
        elif r < 0.75:
            command = graph.sample(rng).text
            text = swap_room(command, rng)
            # A command that names no room ("good night") stays a command.
            kind = "command" if text == command else "other-room"
        else:
            kind, text = "chatter", chatter(rng)
        if text and text not in heldout:
            out.append((kind, text))
    return out
