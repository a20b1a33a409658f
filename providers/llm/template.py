"""Local script writer: a deterministic template that fills the script schema from the brief.

It needs no model and no network. The same brief always gives the same script; two briefs with a
different topic, audience or goal give different scripts. Narration is plain speech: no bracketed
directions, no scene labels.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from providers.base import ScriptRequest, ScriptResponse

__all__ = ["TemplateWriter"]

_OPENING_TITLES = ["{topic}", "{topic}, in plain words", "{topic}: the short version"]
_MIDDLE_TITLES = [
    "The big picture", "How it works", "A closer look", "The key idea", "What changes everything",
    "A common mistake", "An everyday example", "What the evidence shows", "The surprising part",
    "Putting it together", "Where it shows up", "Questions worth asking", "A step further",
    "What experts watch", "Small details that matter", "How it started",
]
_CLOSING_TITLES = ["What to remember", "Your next step", "The takeaway"]

_OPENING = [
    "Let's talk about {topic}.",
    "Here is a short guide to {topic}, made for {audience}.",
    "By the end of this video, you will {goal}.",
    "It sounds complicated at first, but the core of it is simple.",
    "Stay with me, because each part builds on the one before.",
]
_MIDDLE = [
    "{title} is where {topic} starts to make sense.",
    "Think of it as a set of small steps that follow each other.",
    "Each step has a reason, and the reason is what makes it stick.",
    "For {audience}, the useful question is what this changes in practice.",
    "When you look closely, a clear pattern appears.",
    "That pattern is the heart of {topic}.",
    "People often skip this part, and then the rest feels confusing.",
    "Take a moment to picture it in a real situation.",
    "The details matter less than the idea that connects them.",
    "Once you see that connection, the next part follows naturally.",
    "Here is a simple way to check that you understood it.",
    "Try to explain it in one sentence to a friend.",
    "This is also where most of the interesting questions come from.",
    "Keep that in mind, because we will use it again soon.",
    "It helps to remember why this matters to {audience}.",
    "Every good explanation of {topic} comes back to this point.",
]
_CLOSING = [
    "So that is {topic}, step by step.",
    "The main thing to remember is how the parts connect.",
    "Now you are ready to {goal}.",
    "Thanks for watching, and stay curious.",
    "Come back to this idea whenever {topic} comes up again.",
]


_LOWER_FIRST = {"how", "why", "what", "when", "where", "who", "which", "the", "a", "an", "is", "are", "do",
                "does", "can", "should", "making", "building", "using", "understanding", "learning"}


def _in_sentence(topic: str) -> str:
    """The topic as it reads mid-sentence: 'How bees fly' becomes 'how bees fly', names stay."""
    first = topic.split(" ", 1)[0]
    return topic[0].lower() + topic[1:] if first.lower() in _LOWER_FIRST else topic


def _count(text: str) -> int:
    return len(text.split())


def _fill(sentences: list[str], words: int, rng: random.Random, **fields: str) -> str:
    """Join sentences from the bank, in a seeded order, until about `words` words are reached."""
    bank = sentences[:]
    rng.shuffle(bank)
    chosen: list[str] = []
    total = 0
    i = 0
    while total < words - 4 or not chosen:
        sentence = bank[i % len(bank)].format(**fields)
        i += 1
        if sentence in chosen and i <= len(bank) * 3:
            continue
        chosen.append(sentence)
        total += _count(sentence)
    return " ".join(chosen)


class TemplateWriter:
    """LLM provider `local`: deterministic, offline."""

    def __init__(self, model: str = "", **_: Any) -> None:
        self.model = model

    def write_script(self, request: ScriptRequest) -> ScriptResponse:
        """Fill the script schema from the brief's topic, audience, goal and style."""
        brief = request.brief
        headline = str(brief.get("topic", "this topic")).strip().rstrip(".?!")
        topic = _in_sentence(headline)
        audience = str(brief.get("audience") or "curious viewers")
        goal = str(brief.get("goal") or f"understand {topic}").strip().rstrip(".")
        goal = goal[0].lower() + goal[1:] if goal else goal
        style = str(brief.get("visual_style") or "clean illustration")
        key = f"{topic}|{audience}|{goal}|{request.seed}"
        rng = random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16))
        n = request.scene_count
        middles = _MIDDLE_TITLES[:]
        rng.shuffle(middles)
        scenes = []
        for i in range(n):
            if i == 0:
                title, bank = rng.choice(_OPENING_TITLES), _OPENING
            elif i == n - 1 and n > 1:
                title, bank = rng.choice(_CLOSING_TITLES), _CLOSING
            else:
                title, bank = middles[(i - 1) % len(middles)], _MIDDLE
            title = title.format(topic=headline)
            title = title[0].upper() + title[1:]
            narration = _fill(
                bank, request.words_per_scene, rng, topic=topic, audience=audience, goal=goal, title=title
            )
            narration = narration[0].upper() + narration[1:]
            prompt = f"{title}: {topic}, for {audience}, {style}"
            scenes.append({"title": title, "narration": narration, "visual_prompt": prompt})
        data = {"title": headline[0].upper() + headline[1:], "scenes": scenes}
        return ScriptResponse(data=data, provider="local")
