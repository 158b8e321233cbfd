"""The evaluation sentences. The factory removes them from training; ``make eval`` speaks them
in the held-out Piper joe voice. They are fixed by a seed, never tuned against results.
"""

from __future__ import annotations

import random

from edgeasr.grammar.graph import WordGraph

# The phrases of demo-building.md, verbatim.
DEMO_PHRASES = [
    "turn on the kitchen light", "turn the kitchen light off", "switch on the hallway light",
    "kitchen light on", "lights on in the office", "start the bathroom fan",
    "stop the bathroom fan", "set the living room light to forty percent",
    "dim the bedroom light to twenty five percent",
    "brighten the living room light to eighty percent", "open the living room blinds",
    "close the bedroom blinds", "raise the bedroom blinds", "lower the living room blinds",
    "stop the blinds in the living room", "set the bedroom blinds to fifty percent",
    "set the office temperature to twenty one degrees",
    "set the heating in the bedroom to nineteen degrees",
    "make the living room twenty two degrees", "movie time", "activate the movie scene",
    "good night", "good morning", "turn off all the lights", "all lights off",
    "please turn on the kitchen light", "turn the bedroom light off please",
    "set the bedroom temperature to twenty one and a half degrees",
]

# Speech that must send nothing: questions, chatter, TV-like talk, rooms/devices the demo
# building lacks. None of these sentences is in the training corpus.
NON_COMMANDS = [
    "what is the weather like tomorrow", "how long does it take to boil an egg",
    "did anyone feed the cat this morning", "i think the kitchen needs painting",
    "turn on the garage light", "open the office blinds",
    "set the kitchen temperature to twenty degrees",
    "the living room looks lovely today", "can you tell me a joke",
    "the news said it will snow on monday", "where did i leave my glasses",
    "we are having pasta for dinner tonight", "the light in the garden is broken",
    "call my mother on her mobile", "play some music by the beatles",
    "switch on the television", "open the front door", "turn up the volume",
    "how many degrees is it outside", "the bedroom is far too warm",
    "my sister is coming over on saturday", "let us go for a walk in the park",
    "the office closes at six today", "start the washing machine",
    "and now the headlines at nine o'clock", "the score is two goals to one",
    "scientists have discovered a new species of frog",
    "stay tuned for more after the break", "is the bathroom free",
    "lock the garage door", "the movie was really good", "good evening everyone",
    "turn on the attic light", "close the kitchen blinds", "dim the hallway light to ten percent",
    "what time does the shop open", "remind me to buy milk",
    "the heating bill was very high this winter", "set an alarm for seven",
    "the blinds in this hotel are broken",
]

# Near-commands: a whole command inside a longer sentence that means something else (a
# negation, a question, another time). Acting on the command inside is a false action.
NEAR_COMMANDS = [
    "don't turn on the kitchen light", "do not close the bedroom blinds",
    "turn on the kitchen light and make some coffee",
    "turn off the office light in five minutes", "never open the living room blinds",
    "i said turn on the kitchen light yesterday", "start the bathroom fan when i shower",
    "close the bedroom blinds tomorrow morning", "why did you turn off all the lights",
    "movie time is at eight", "set the heating in the bedroom to nineteen degrees next week",
    "who turned on the office light", "can you dim the bedroom light to twenty percent later",
    "the kitchen light on the left is broken", "remember to stop the bathroom fan tonight",
    "she said good night and left",
]


def command_texts(graph: WordGraph, n_sampled: int = 140, seed: int = 20261126) -> list[str]:
    rng = random.Random(seed)
    sampled: list[str] = []
    while len(sampled) < n_sampled:
        t = graph.sample(rng).text
        if t not in sampled and t not in DEMO_PHRASES:
            sampled.append(t)
    return DEMO_PHRASES + sampled


def non_command_texts() -> list[str]:
    """Everything the evaluation speaks that must send nothing."""
    return NON_COMMANDS + NEAR_COMMANDS


def evaluation_texts(graph: WordGraph) -> set[str]:
    return set(command_texts(graph)) | set(non_command_texts())
