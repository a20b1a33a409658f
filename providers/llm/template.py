"""Local script writer: fills the script schema from the brief without a model or a network.

The topic is read for its form (a noun phrase or an indirect question such as "how bees fly", a
direct question, a statement, or a title in another language or too long to speak) and only put
where that form reads as English; long topics are spoken by their first clause or not at all.
Every scene looks at its own angle, and no sentence is said twice in a script: each middle scene's
sentences name that scene's angle, and the shared sentences are used at most once. The tone picks
a register (friendly, formal or lively); audience and goal are spoken when they read as a phrase.

With reference material (the passages `tasks.script` chose by BM25), the middle scenes narrate the
passages' own sentences most relevant to the topic and goal, in document order, each scene opening
with the document it quotes and the closing scene naming all of them: an offline video can then
carry real facts. Each scene is filled to the requested length within a few words. The same request
always gives the same script.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from providers.base import Reference, ScriptRequest, ScriptResponse
from providers.llm.footage_terms import footage_queries

__all__ = ["TemplateWriter", "key_phrase", "reference_sentences", "topic_subject"]



def _set(words: str) -> frozenset[str]:
    """A set of words written as one string, for the word lists below."""
    return frozenset(words.split())


_WH = _set("how why what when where who whom whose which whether")
_AUX = _set(
    "is are was were am be been do does did can could will would shall should may might must has have had "
    "isn't aren't wasn't weren't don't doesn't didn't can't couldn't won't wouldn't shouldn't hasn't haven't"
)
# first words that are lower-case in mid-sentence; anything else (names, acronyms) keeps its case
_LOWER_FIRST = _WH | _set(
    "the a an making building using understanding learning choosing writing reading getting finding keeping "
    "starting growing caring cooking training living working saving teaching planning"
)
_STOP = _set(
    "a an and are as at be but by can do does for from has have how i if in into is it its of on or our so than "
    "that the their them then there these they this to was we were what when where which who why will with you "
    "your about after also more most not only other over some such very been being had his her he she one two "
    "may might must would could should each many much any all"
)
_VERBS = _set(
    "understand explain know learn make build use recognise recognize describe identify compare choose decide "
    "avoid start create write see tell find apply plan cook fix spot remember name list draw read follow "
    "calculate solve measure predict evaluate teach set get keep give take try practise practice improve "
    "prepare design manage handle protect save grow train run play sing speak answer ask judge check test "
    "answer argue discuss summarise summarize picture imagine notice appreciate enjoy"
)
_LEANING = _set("it its this these that those they their them he she his her such there so then also")
_CONNECTIVES = _set("of in on at to for with by from and or but nor about into onto than as so because if "
                    "although though unless while after before since until via per")
_GENERIC_AUDIENCES = frozenset({"a general audience", "general audience", "general", "everyone", "anyone", "you",
                                "all", "anybody"})
# common verbs and adverbs that make poor names for what a passage is about
_PLAIN_VERBS = _set(
    "far away near also shows show showed shown tells tell told uses use used using found find finds returns return "
    "against close "
    "carried carry carries look looks share shares shared make makes made get gets got take takes took give gives "
    "gave called known including often usually around between through within without among across like likes "
    "became become becomes began begin begins said says seem seems seemed want wants keep keeps kept relative "
    "decoded describe describes described explain explains explained still even just really almost already later "
    "recognise recognize recognises recognizes contain contains become stay stays stick sticks learn learns arrive "
    "arrives meet meets start starts respond responds cause causes causing given trains train helps help lets "
    "first second third new old large small high low good best better well"
)
_MARKUP = re.compile(r"[\[\]{}()<>*_#|\\^~`\"]+")
_WORD = re.compile(r"\w+", re.UNICODE)
_SPLIT = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")
_MAX_SPOKEN_WORDS = 14


# --- reading the brief ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subject:
    """The topic as the narration can use it."""

    title: str  # for the script's title and the first card: the topic, shortened to fit
    form: str  # phrase | question | statement | title
    spoken: str  # the topic (or its first clause) as spoken in its own sentence; '' when it cannot be
    about: str  # a noun phrase for object positions: the topic itself (phrase form) or "this question"...


def _plain(text: str) -> str:
    """Text without markup characters and control characters, whitespace collapsed."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(_MARKUP.sub(" ", text).split())


def _has_letters(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _wordy(text: str) -> bool:
    """Whether `text` reads as words: mostly letters, with at least one word of two letters or more."""
    words = text.split()
    plain = [w for w in words if sum(ch.isalpha() for ch in w) >= 0.75 * len(w)]
    return bool(words) and len(plain) >= 0.7 * len(words) and any(sum(ch.isalpha() for ch in w) >= 2 for w in plain)


def _english_looking(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and sum(ch.isascii() for ch in letters) / len(letters) > 0.9


def _shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,;:.-–—") + "…"


def _head(text: str) -> str:
    """The first clause of a long topic: up to the first comma, colon, dash or bracket."""
    return re.split(r"[,;:()\u2013\u2014]| - ", text, maxsplit=1)[0].strip()


def topic_subject(topic: str, language: str = "en", most_words: int = _MAX_SPOKEN_WORDS) -> _Subject:
    """Read the topic's form and the phrases the narration can use for it (spoken when up to `most_words` long)."""
    raw = " ".join(topic.split())
    title = _shorten(raw.rstrip(" .") or raw, 120)
    title = title[0].upper() + title[1:] if title else "Untitled"
    text = re.sub(r"^[^\w\"'¿¡]+", "", _plain(raw))
    words = text.split()
    if len(words) > most_words or len(text) > 110:
        text = re.sub(r"^[^\w\"'¿¡]+", "", _plain(_head(raw)))
        words = text.split()
    english = language.lower().startswith("en") and _english_looking(text)
    if not words or not _has_letters(text) or len(words) > most_words or len(text) > 110:
        return _Subject(title, "title", "", "this subject")
    if not english or not _wordy(text):
        return _Subject(title, "title", _sentence(text.rstrip(" .!?…")), "this subject")
    if all(w.lower().strip(".,;:!?") in _STOP for w in words):  # "of", "the how": nothing to say it with
        return _Subject(title, "title", _sentence(text.rstrip(" .!?…")), "this subject")
    if words[0].lower() in _CONNECTIVES:  # "of honeybees", "and then": a fragment reads only as a title
        return _Subject(title, "title", _sentence(text.rstrip(" .!?…")), "this subject")
    first, second = words[0].lower(), (words[1].lower() if len(words) > 1 else "")
    bare = text.rstrip(" .!?…")
    if first in _AUX or (first in _WH and second in _AUX) or (text.endswith("?") and first not in _WH):
        question = bare[0].upper() + bare[1:] + "?"
        return _Subject(title, "question", question, "this question")
    if text.endswith((".", "!")) or any(w.lower() in _AUX for w in words[1:] if first not in _WH):
        statement = bare[0].upper() + bare[1:] + "."
        return _Subject(title, "statement", statement, "this idea")
    phrase = bare[0].lower() + bare[1:] if first in _LOWER_FIRST else bare
    return _Subject(title, "phrase", phrase, phrase)


def _register(tone: str) -> str:
    """friendly, formal or lively: which set of openings, links and closings the tone asks for."""
    tone = tone.lower()
    if any(w in tone for w in ("formal", "professional", "academic", "serious", "neutral", "technical",
                               "authoritative", "calm", "corporate", "sober", "objective", "scientific")):
        return "formal"
    if any(w in tone for w in ("playful", "fun", "excit", "energetic", "enthusias", "upbeat", "humor", "humour",
                               "lively", "witty", "cheerful", "bold")):
        return "lively"
    return "friendly"


def _audience(text: str) -> str:
    """The audience as a noun phrase to speak, or '' when it does not read as one."""
    text = re.sub(r"^[^\w\"']+", "", _plain(text)).rstrip(" .!?,;:")
    if not _wordy(text) or len(text.split()) > 10 or re.search(r"[.!?;:]", text) or text.lower() in _GENERIC_AUDIENCES:
        return ""
    return text[0].lower() + text[1:] if text.split()[0].lower() in _LOWER_FIRST | {"curious", "young"} else text


def _goal(text: str) -> tuple[str, str]:
    """('verb', 'explain X') for a goal that reads as a verb phrase, ('note', 'Goal text'), or ('', '')."""
    text = re.sub(r"^[^\w\"']+", "", _plain(text)).rstrip(" .!?,;:")
    if not _wordy(text) or len(text.split()) > 30:
        return "", ""
    lowered = text[0].lower() + text[1:]
    for prefix in ("to be able to ", "be able to ", "to "):
        if lowered.lower().startswith(prefix):
            return "verb", lowered[len(prefix):]
    if lowered.split()[0].lower() in _VERBS:
        return "verb", lowered
    return "note", text[0].upper() + text[1:]


# --- sentence banks ------------------------------------------------------------------------------------------------

_HOOK = {
    "phrase+aud": {
        "friendly": ["Here is {about}, explained for {aud}."],
        "formal": ["This video examines {about} for {aud}."],
        "lively": ["Let's dive into {about}, made for {aud}!"],
    },
    "phrase": {
        "friendly": ["Let's look at {about}.", "This video is about {about}.", "Today we are looking at {about}."],
        "formal": ["This video examines {about}.", "The subject of this video is {about}."],
        "lively": ["Get ready for a quick tour of {about}!", "Let's dive into {about}!"],
    },
    "question": {
        "friendly": ["Here is a good question: {spoken}", "Let's answer a question: {spoken}"],
        "formal": ["This video addresses one question: {spoken}"],
        "lively": ["Here is a question worth a minute: {spoken}"],
    },
    "statement": {
        "friendly": ["Here is the idea we will unpack: {spoken}", "Let's unpack one idea: {spoken}"],
        "formal": ["This video examines one claim: {spoken}"],
        "lively": ["Here is an idea worth a closer look: {spoken}"],
    },
    "title": {
        "friendly": ["This video is called \"{spoken}\".", "Our subject today is \"{spoken}\"."],
        "formal": ["This video is titled \"{spoken}\"."],
        "lively": ["Welcome to \"{spoken}\"!"],
    },
    "untitled": {
        "friendly": ["Let's look at the subject named in the title."],
        "formal": ["This video examines the subject named in its title."],
        "lively": ["Let's dive into the subject in the title!"],
    },
}
_FOR_AUDIENCE = {
    "friendly": ["It is made for {aud}.", "This one is for {aud}."],
    "formal": ["It is intended for {aud}."],
    "lively": ["It is made for {aud}, so let's go."],
}
_GOAL = {
    "verb": ["By the end, you will be able to {goal}.", "The aim is simple: by the end, you can {goal}."],
    "note": ["The goal is this: {goal}."],
}
_ROADMAP = {
    "friendly": ["We will take it one step at a time.", "Each part builds on the one before."],
    "formal": ["The explanation proceeds in short steps.", "Each part builds on the previous one."],
    "lively": ["It goes fast, so stay with me.", "Each part builds on the last one."],
}
_CLOSE = {
    "friendly": ["That is the whole picture of {about}, one step at a time.", "Thanks for watching, and stay curious."],
    "formal": ["That concludes this overview of {about}.", "Thank you for watching."],
    "lively": ["And that is {about}, start to finish!", "Thanks for watching, and keep exploring!"],
}
_CLOSE_GOAL = {
    "verb": ["Now you are ready to {goal}.", "You should now be able to {goal}."],
    "note": ["Keep the goal in mind: {goal}."],
}
_CLOSE_EXTRA = [
    "Go back over the steps whenever something feels unclear.",
    "Try explaining it to someone else; that is the best test.",
    "The next time you meet {about}, you will know where to start.",
]
_SOURCES = "The facts in this video come from {sources}."

# (title, noun phrase, sentences of that angle): {about} is the topic, {aud} the audience
_ANGLES: list[tuple[str, str, list[str]]] = [
    ("The core idea", "the core idea", [
        "If you remember one thing about {about}, make it the core idea.",
        "Say it in plain words first, then add the details one at a time.",
    ]),
    ("Why it matters", "the reason it matters", [
        "It is worth asking why anyone should care about {about}.",
        "The answer usually shows up in everyday decisions.",
    ]),
    ("How it works", "the mechanism", [
        "Think of it as a chain of small steps, each one causing the next.",
        "Follow one step at a time and the whole chain becomes clear.",
    ]),
    ("A closer look", "the small details", [
        "Up close, the details start to make sense.",
        "Small details often explain the big picture.",
    ]),
    ("An everyday example", "an everyday example", [
        "Examples turn an abstract idea into something you can picture.",
        "Think of a moment from your own week where this shows up.",
    ]),
    ("A common misconception", "a common misconception", [
        "Many people get one part of {about} wrong at first.",
        "Noticing the mistake is half of fixing it.",
    ]),
    ("The key terms", "the key terms", [
        "A few words carry most of the meaning here.",
        "Once the words are clear, the explanations get shorter.",
    ]),
    ("Cause and effect", "cause and effect", [
        "Ask what causes what, and in which order.",
        "A clear cause makes the effect much easier to remember.",
    ]),
    ("Where it came from", "the origins", [
        "Knowing how an idea started makes it easier to follow.",
        "Most ideas were shaped by the questions people asked at the time.",
    ]),
    ("The surprising part", "the surprising part", [
        "The surprising part of {about} is often the most memorable one.",
        "Surprises are where real understanding starts.",
    ]),
    ("How the parts connect", "the links between the parts", [
        "No part of {about} works on its own.",
        "Change one piece and the others respond.",
    ]),
    ("Trying it yourself", "hands-on practice", [
        "The fastest way to learn is to try it once yourself.",
        "Start small, and check each result before the next step.",
    ]),
    ("What to watch for", "the warning signs", [
        "A few warning signs tell you when something is off.",
        "Watching for them saves time later.",
    ]),
    ("The bigger picture", "the bigger picture", [
        "Step back, and you can place {about} inside something larger.",
        "Seen from a distance, the pattern is easier to spot.",
    ]),
    ("A quick check", "a quick self-check", [
        "Pause here and try to answer one question in your head.",
        "If the answer comes easily, you are ready for the next part.",
    ]),
    ("What comes next", "the questions that come next", [
        "Every answer opens a new question.",
        "That next question is a good place to keep learning.",
    ]),
]
_QUALIFIERS = [
    "in practice", "in more detail", "from another side", "in a real case", "one level deeper", "with fresh eyes",
    "in everyday life", "at a larger scale", "at a smaller scale", "over time", "in numbers", "step by step",
    "in a new setting", "in plain words", "with an example", "in review",
]
# each of these names the scene's angle, so none repeats in a script where every angle differs;
# a middle scene opens with one of the first four
_ANGLE_FRAMES = {
    "friendly": [
        "Now for {np}.", "Next comes {np}.", "Let's spend a moment on {np}.", "This part is about {np}.",
        "Keep {np} in mind as we go on.", "Compare {np} with what came before.",
        "Picture {np} in a situation you know well.", "A good test: can you explain {np} in one sentence?",
        "With {np} clear, the rest of {about} gets easier.", "So there you have {np}, in short.",
        "For {aud}, it often clicks with {np}.",
        "Remember {np} the next time you think about {about}.",
    ],
    "formal": [
        "Consider {np}.", "The next point concerns {np}.", "This section covers {np}.", "We now turn to {np}.",
        "It is useful to keep {np} in mind.", "Compare {np} with the previous point.",
        "A concrete case makes {np} easier to see.", "One check: can {np} be stated in a single sentence?",
        "With {np} established, the rest of {about} is easier to follow.", "That summarises {np}.",
        "For {aud}, the decisive point often lies in {np}.",
        "Recall {np} whenever you return to {about}.",
    ],
    "lively": [
        "Next up: {np}!", "Time for {np}.", "Let's zoom in on {np}.", "This bit is all about {np}.",
        "Hold on to {np}; we will use that later.", "Now connect {np} to what we just saw.",
        "Picture {np} somewhere you know well.", "Quick challenge: explain {np} in one sentence.",
        "Crack {np} and the rest of {about} gets easier.", "There you have {np} in a nutshell!",
        "For {aud}, it all clicks with {np}.",
        "Think of {np} the next time you meet {about}.",
    ],
}
_SHARED = [
    "Each step has a reason, and the reason is what makes it stick.",
    "People often skip this part, and then the rest feels confusing.",
    "Take a moment to picture it in a real situation.",
    "The details matter less than the idea that connects them.",
    "Once you see that connection, the next part follows naturally.",
    "This is also where the most interesting questions come from.",
    "It helps to say it out loud in your own words.",
    "Notice how each piece depends on the one before it.",
    "A simple sketch on paper can make this much clearer.",
    "Experts and beginners both trip over this point.",
    "There is usually more than one way to explain it.",
    "The pattern repeats, which makes it easier to remember.",
    "Slow down here; it pays off later.",
    "Good explanations start from what you already know.",
    "Ask what would happen if this step were missing.",
    "It is fine if this takes a second pass.",
]
_REF_LEADS = [
    "Here is what \"{src}\" says about {np}.",
    "On {np}, \"{src}\" has this to say.",
    "The next facts, on {np}, come from \"{src}\".",
    "\"{src}\" describes {np} like this.",
    "According to \"{src}\":",
]
# after a scene's facts, when it has room left: each names the scene's key phrase, so none repeats
_REF_AFTER = [
    "So much for {np}.", "Keep {np} in mind; it comes up again.", "Notice how much depends on {np}.",
    "Hold on to {np} for the next part.", "Picture {np} as you listen.",
]


# --- reference material --------------------------------------------------------------------------------------------


def _terms(text: str) -> list[str]:
    out = []
    for word in _WORD.findall(text.lower()):
        if word in _STOP or len(word) < 2:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


def _speakable(sentence: str, longest: int) -> bool:
    """Whether a sentence from a document can be narrated as it is: a whole sentence of prose, not too long."""
    words = sentence.split()
    if not 5 <= len(words) <= longest or sentence[-1] not in ".!?" or not sentence[0].isupper():
        return False
    if re.search(r"https?:|www\.|@|[\[\]{}<>|*#_\\^~`]", sentence):
        return False
    visible = [ch for ch in sentence if not ch.isspace()]
    return sum(ch.isalpha() for ch in visible) / len(visible) > 0.7


@dataclass(frozen=True)
class _Fact:
    """One sentence of the reference material: where it is, which document, how relevant."""

    order: int
    source: str
    text: str
    score: float
    after: int = -1  # the fact this one follows in its passage, or -1 (it may lean on it: "Its angle...")

    @property
    def words(self) -> int:
        return len(self.text.split())


def reference_sentences(references: Sequence[Reference], query: str, longest: int = 45,
                        goal: str = "") -> list[_Fact]:
    """The passages' narratable sentences, best first for `query` and `goal` (shared terms weighted by rarity,
    the goal's by half as much again: it says what the viewer came for)."""
    facts: list[_Fact] = []
    seen: set[str] = set()
    for passage in references:
        text = " ".join(passage.text.split())
        if passage.source and text.startswith(passage.source + " "):  # the document's title line
            text = text[len(passage.source) + 1:]
        previous = -1
        for sentence in _SPLIT.split(text):
            sentence = sentence.strip()
            key = sentence.lower()
            if key in seen or not _speakable(sentence, longest):
                previous = -1
                continue
            seen.add(key)
            facts.append(_Fact(len(facts), _plain(passage.source) or "the reference", sentence, 0.0, previous))
            previous = len(facts) - 1
    if not facts:
        return []
    wanted, stressed = set(_terms(query)), set(_terms(goal))
    df = Counter(t for f in facts for t in set(_terms(f.text)))
    scored = []
    for f in facts:
        words = set(_terms(f.text))
        score = sum(math.log(1 + len(facts) / df[t]) * (1.5 if t in stressed else 1.0)
                    for t in (wanted | stressed) & words)
        scored.append(_Fact(f.order, f.source, f.text, score - 0.002 * f.order, f.after))
    return sorted(scored, key=lambda f: (-f.score, f.order))


def key_phrase(text: str, prefer: Iterable[str] = (), material: str = "", avoid: Iterable[str] = ()) -> str:
    """The phrase that best names what `text` is about: a run of one to three content words, the more often
    it recurs in `text` and in the whole `material` the better, longer runs and words of `prefer` first; never
    one of `avoid` (the phrases earlier scenes are named by) while another is left."""
    preferred = set(prefer)

    def grams(body: str) -> Iterable[tuple[int, list[str]]]:
        for sentence in _SPLIT.split(body):
            tokens = re.findall(r"[^\W\d_][\w'-]*|[^\w\s]+|\d\w*", sentence)
            for i in range(len(tokens)):
                for n in (1, 2, 3):
                    gram = tokens[i:i + n]
                    if len(gram) == n and all(t[0].isalpha() and len(t) > 2 and t.lower() not in _STOP
                                              and t.lower() not in _PLAIN_VERBS for t in gram):
                        yield i, tokens[max(0, i - 1):i + n]

    counts: Counter[str] = Counter()
    shapes: dict[str, str] = {}
    capitals = {t for t in re.findall(r"(?<=[a-z,;] )[A-Z][\w'-]*", text + " " + material)}
    for i, window in grams(text):
        gram = window[1:] if i > 0 else window
        key = " ".join(t.lower() for t in gram)
        counts[key] += 1
        first = gram[0] if gram[0] in capitals or gram[0].isupper() else gram[0].lower()
        shape = " ".join([first, *gram[1:]])
        if i > 0 and window[0].lower() == "the" and not first[0].isupper():
            shape = "the " + shape
        if key not in shapes or shape.startswith("the "):
            shapes[key] = shape
    if not counts:
        return ""
    everywhere = Counter(" ".join(t.lower() for t in (w[1:] if i > 0 else w)) for i, w in grams(material or text))

    def weight(key: str) -> float:
        words = key.split()
        bonus = sum(0.8 for w in words if (w[:-1] if w.endswith("s") else w) in preferred)
        return counts[key] * (1 + math.log1p(everywhere[key])) * (1 + 0.8 * (len(words) - 1)) + bonus

    def named(key: str) -> bool:
        """Whether `key` reads as a name for something: a run of words the material repeats, or a word that is
        no adverb or -ing form (without a tagger, a phrase said once is as likely a clause as a name)."""
        words = key.split()
        if len(words) > 1:
            return everywhere[key] >= 2 or shapes[key][0].isupper()
        return not words[0].endswith(("ly", "ing", "ed")) or everywhere[key] >= 3

    taken = {a.lower().removeprefix("the ") for a in avoid}
    ranked = sorted(sorted(k for k in counts if named(k)) or sorted(counts), key=weight, reverse=True)
    fresh = [k for k in ranked if shapes[k].lower().removeprefix("the ") not in taken]
    return shapes[(fresh or ranked)[0]]


# --- putting a scene together --------------------------------------------------------------------------------------


def _words(text: str) -> int:
    return len(text.split())


def _sentence(text: str) -> str:
    """A template sentence with its first letter capitalised."""
    return text[0].upper() + text[1:] if text and text[0].islower() else text


class _Scene:
    """Sentences for one scene, added until its word target is reached, never one the script already has."""

    def __init__(self, target: int, used: set[str]) -> None:
        self.target = target
        self.used = used
        self.lines: list[str] = []
        self.count = 0

    @property
    def full(self) -> bool:
        return self.count >= self.target * 0.9

    def add(self, text: str, force: bool = False) -> bool:
        """Add `text` if it is new and fits (or `force`); say whether it was added."""
        text = _sentence(" ".join(text.split()))
        if not text or text.lower() in self.used:
            return False
        n = _words(text)
        if not force and self.lines and self.count + n > self.target * 1.25 + 1:
            return False
        self.lines.append(text)
        self.used.add(text.lower())
        self.count += n
        return True

    def fill(self, candidates: Iterable[str]) -> None:
        """Add candidates in order until full."""
        for text in candidates:
            if self.full:
                return
            self.add(text)

    def text(self) -> str:
        return " ".join(self.lines)


def _fmt(template: str, **fields: str) -> str:
    """`template` filled, or '' when it needs a field that is empty (an unspeakable audience, say)."""
    names = re.findall(r"{(\w+)}", template)
    if any(not fields.get(name) for name in names):
        return ""
    return template.format(**fields)


@dataclass
class _Plan:
    """What every scene of one script shares."""

    subject: _Subject
    register: str
    aud: str
    goal_kind: str
    goal: str
    rng: random.Random

    def fields(self, **more: str) -> dict[str, str]:
        return {"about": self.subject.about, "spoken": self.subject.spoken, "aud": self.aud, "goal": self.goal, **more}

    def shuffled(self, items: Sequence[str]) -> list[str]:
        out = list(items)
        self.rng.shuffle(out)
        return out

    def hooks(self) -> list[str]:
        form = self.subject.form if self.subject.spoken else "untitled"
        forms = [f"{form}+aud", form] if self.aud and f"{form}+aud" in _HOOK else [form]
        return [_fmt(t, **self.fields()) for f in forms for t in self.shuffled(_HOOK[f][self.register])]

    def opening(self) -> list[str]:
        lines = self.shuffled(_GOAL.get(self.goal_kind, []))[:1] + self.shuffled(_FOR_AUDIENCE[self.register])[:1]
        lines += self.shuffled(_ROADMAP[self.register])
        return [_fmt(t, **self.fields()) for t in lines]

    def closing(self) -> list[str]:
        lines = self.shuffled(_CLOSE_GOAL.get(self.goal_kind, []))[:1] + self.shuffled(_CLOSE[self.register])
        lines += self.shuffled(_CLOSE_EXTRA)
        return [_fmt(t, **self.fields()) for t in lines]

    def angle(self, index: int, rounds: int) -> tuple[str, str, list[str]]:
        """The title, noun phrase and own sentences of the `index`-th middle scene's angle."""
        title, np, own = _ANGLES[index % len(_ANGLES)]
        turn = index // len(_ANGLES)
        if turn:
            qualifier = _QUALIFIERS[(turn - 1) % len(_QUALIFIERS)]
            extra = (turn - 1) // len(_QUALIFIERS)
            qualifier += f", part {extra + 2}" if extra else ""
            title, np, own = f"{title}, {qualifier}", f"{np} {qualifier}", []
        return title, np, [_fmt(t, **self.fields()) for t in own]

    def angle_lines(self, np: str, index: int) -> list[str]:
        """Sentences naming the angle `np` of the `index`-th middle scene: its opener first, then the others."""
        frames = _ANGLE_FRAMES[self.register]
        ordered = [frames[index % 4]] + self.shuffled(frames[4:])
        return [_fmt(t, **self.fields(np=np)) for t in ordered]


def _source_list(sources: Sequence[str]) -> str:
    quoted = [f"\"{s}\"" for s in sources[:3]]
    if len(sources) > 3:
        quoted.append(f"{len(sources) - 3} more documents")
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _fact_groups(facts: list[_Fact], scenes: int, target: int) -> list[list[_Fact]]:
    """The best facts for `scenes` scenes of `target` words, in document order, one group per scene while they last.

    Facts are taken best first until they fill about three quarters of every scene and there is one for each
    scene; a scene then gets the next facts in reading order until its share is full, leaving at least one
    for each scene after it.
    """
    room = max(1, int(target * 0.75))
    chosen: list[_Fact] = []
    total = 0
    left = [f for f in facts if f.words <= target * 1.5 + 2 or target < 8]
    top = max((f.score for f in left), default=0.0)
    taken: set[int] = set()

    def merit(fact: _Fact) -> float:
        # the sentence after a chosen one continues its thought; one that leans on a sentence left out
        # ("Its angle...", "This helps...") would not make sense alone
        if fact.after >= 0 and fact.after in taken:
            return fact.score + 0.6 * top
        leans = fact.after >= 0 and fact.text.split()[0].lower() in _LEANING
        return fact.score * (0.4 if leans else 1.0)

    while left and (total < scenes * room or len(chosen) < scenes):
        best = max(left, key=lambda f: (merit(f), -f.order))
        taken.add(best.order)
        left.remove(best)
        chosen.append(best)
        total += best.words
    chosen.sort(key=lambda f: f.order)
    groups: list[list[_Fact]] = []
    i = 0
    while i < len(chosen) and len(groups) < scenes:
        group = [chosen[i]]
        i += 1
        spare = len(chosen) - i - (scenes - len(groups) - 1)  # facts this scene may take beyond its first
        while spare > 0 and i < len(chosen) and sum(f.words for f in group) + chosen[i].words <= room * 1.3:
            group.append(chosen[i])
            i += 1
            spare -= 1
        groups.append(group)
    return groups


class TemplateWriter:
    """LLM provider `local`: deterministic, offline."""

    def __init__(self, model: str = "", **_: Any) -> None:
        self.model = model

    def write_script(self, request: ScriptRequest) -> ScriptResponse:
        """Write the script for the brief in `request`: its length, its scenes, its references."""
        brief = request.brief
        topic = str(brief.get("topic") or "").strip() or "this subject"
        # a topic takes at most about a third of a short script's words; a longer one is said by its first clause
        most_words = max(4, min(_MAX_SPOKEN_WORDS, int(request.scene_count * request.words_per_scene * 0.35)))
        subject = topic_subject(topic, str(brief.get("language") or "en"), most_words)
        goal_kind, goal = _goal(str(brief.get("goal") or ""))
        key = f"{topic}|{brief.get('audience')}|{brief.get('goal')}|{brief.get('tone')}|{request.seed}"
        plan = _Plan(subject, _register(str(brief.get("tone") or "")), _audience(str(brief.get("audience") or "")),
                     goal_kind, goal, random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16)))
        n, target = request.scene_count, request.words_per_scene
        used: set[str] = set()
        query = f"{topic} {brief.get('goal') or ''}"
        facts = reference_sentences(request.references, query, longest=max(12, min(45, int(target * 1.5) + 2)),
                                    goal=str(brief.get("goal") or ""))
        middle = max(0, n - 2)
        groups = _fact_groups(facts, middle or 1, target) if facts else []
        cited: list[str] = []

        scenes: list[tuple[str, str, str]] = []  # (title, narration, what it shows: its facts, else the topic)

        def share(index: int) -> int:
            """Scene `index`'s words: its part of the whole, less what earlier scenes ran over (plus what they left)."""
            written = sum(_words(text) for _, text, _ in scenes)
            return max(round(target * 0.5), min(round(target * 1.5), target * (index + 1) - written))

        opening = _Scene(target, used)
        for hook in plan.hooks():
            if hook and opening.add(hook, force=True):
                break
        if n == 1:
            # one scene holds the opening, the facts and the closing: the essentials first
            for fact in groups[0] if groups else []:
                room = target * 1.25 - _words(_SOURCES.format(sources=_source_list([*cited, fact.source])))
                if opening.count + fact.words <= room and opening.add(fact.text) and fact.source not in cited:
                    cited.append(fact.source)
            if cited:
                opening.add(_SOURCES.format(sources=_source_list(cited)), force=True)
            opening.fill(plan.opening()[:2])
            opening.fill(plan.closing())
        else:
            lines = plan.opening()
            if lines[0] and plan.goal_kind:  # the goal is said whatever the length: it is what the viewer came for
                opening.add(lines[0], force=opening.count + _words(lines[0]) <= 1.6 * target)
            opening.fill(lines[1:])
            if middle == 0 and groups:
                for fact in groups[0]:
                    if opening.add(fact.text) and fact.source not in cited:
                        cited.append(fact.source)
            opening.fill(plan.shuffled(_SHARED))
        opened = groups[0] if groups and middle == 0 else []
        scenes.append((subject.title, opening.text(), " ".join(f.text for f in opened)))

        material = " ".join(f.text for f in facts)
        previous = ""
        for i in range(middle):
            scene = _Scene(share(len(scenes)), used)
            group = groups[i] if i < len(groups) else []
            if group:
                texts = [f.text for f in group]
                kp = key_phrase(" ".join(texts), _terms(query), material, {t for t, _, _ in scenes})
                title = _sentence(_shorten(kp, 80)) if kp else plan.angle(i, middle)[0]
                np = kp if not kp or kp[0].isupper() or kp.startswith("the ") else f"the {kp}"
                if group[0].source != previous:  # name the document when the narration starts quoting it
                    previous = group[0].source
                    for lead in [_fmt(t, src=previous, np=np) for t in plan.shuffled(_REF_LEADS)]:
                        # only with its first fact in the scene's length (else the closing scene names it alone)
                        if lead and _words(lead) + group[0].words <= scene.target * 1.5 and scene.add(lead, force=True):
                            break
                for k, fact in enumerate(group):  # the first fact always: it is what the scene is for
                    if scene.add(fact.text, force=k == 0 or scene.count < target * 0.5) and fact.source not in cited:
                        cited.append(fact.source)
                if np:
                    scene.fill([_fmt(t, np=np) for t in plan.shuffled(_REF_AFTER)])
                scene.fill(plan.shuffled(_SHARED))
            else:
                title, np, own = plan.angle(i, middle)
                lines = plan.angle_lines(np, i)
                scene.add(lines[0], force=True)
                scene.fill(own)
                scene.fill(plan.shuffled(_SHARED))
                scene.fill(lines[1:])
            if not scene.lines:  # every candidate was said already: name the scene, which no other scene has
                scene.add(f"{title}.", force=True)
            scenes.append((title, scene.text(), " ".join(f.text for f in group)))

        if n > 1:
            closing = _Scene(max(share(len(scenes)), round(target * 0.8)), used)  # room for a real goodbye
            if cited:
                closing.add(_SOURCES.format(sources=_source_list(cited)), force=True)
            closing.fill(plan.closing())
            if closing.count < target * 0.9:
                closing.fill(plan.shuffled(_SHARED))
            if not closing.lines:
                closing.add("That is all for now.", force=True)
            ending = {"formal": "Summary", "lively": "The takeaway"}.get(plan.register, "What to remember")
            scenes.append((ending, closing.text(), ""))

        style = _plain(str(brief.get("visual_style") or "clean illustration"))[:200]
        short_topic = _shorten(_plain(topic), 200) or "the subject"
        data = {
            "title": _shorten(subject.title, 200),
            "scenes": [
                {"title": _shorten(title, 200), "narration": narration,
                 "visual_prompt": _shorten(f"{title}: {short_topic}, for {plan.aud or 'a general audience'}, {style}",
                                           1000),
                 "queries": [_shorten(q, 100) for q in footage_queries(f"{title}. {shows}" if shows else short_topic,
                                                                       short_topic)]}
                for title, narration, shows in scenes
            ],
        }
        return ScriptResponse(data=data, provider="local")
