"""The local script writer: deterministic, brief-driven, plain speech; any valid brief gives a valid script."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from providers.llm.template import TemplateWriter, key_phrase, topic_subject
from tasks.schemas import MAX_DURATION, MIN_DURATION, Aspect, Brief, Density, Pacing, Script
from tasks.script import build_request, parse_script, plan_scenes, script_problems

# where the old template writer glued a phrase into a slot that only takes a noun ("… is where how bees fly …")
_SEAM = re.compile(
    r"\bwhere (?:how|why|what|when|where|who|which|whether)\b|\b(\w+) \1\b|[{}]|\s[.,;:!?]|[.,;:]{2}|\?\.|\.\?",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.!?])[\"'”’)]*\s+")


def _script(brief: Brief) -> Script:
    return parse_script(TemplateWriter().write_script(build_request(brief)).data)


def _sentences(script: Script, brief: Brief) -> list[str]:
    """The narration's sentences; the topic, as the writer says it, counts as one word (it may hold a full stop)."""
    subjects = [topic_subject(brief.topic, brief.language, most) for most in range(4, 15)]
    said = sorted({p for s in subjects for p in (s.spoken, s.about) if p}, key=len, reverse=True)
    out = []
    for scene in script.scenes:
        text = scene.narration
        for phrase in said:
            text = text.replace(phrase, "TOPIC")
        out += [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    return out


def _user_text(brief: Brief) -> str:
    """What the user wrote, as the writer may say it: control characters and markup characters as spaces."""
    text = " ".join([brief.topic, brief.goal, brief.audience, *brief.references])
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    return " ".join(re.sub(r"[\[\]{}()<>*_#|\\^~`\"]+", " ", text).split())


def assert_sound(script: Script, brief: Brief) -> None:
    """Valid for the brief, no sentence said twice, no template seams outside the user's own words."""
    scenes, words = plan_scenes(brief)
    assert len(script.scenes) == scenes
    assert script_problems(script, brief) == []
    # on target, well inside what the pipeline accepts from a model (0.5-2x): every scene is filled to its length
    assert 0.75 * scenes * words <= script.word_count <= 1.4 * scenes * words
    assert all(1 <= len(scene.queries) <= 3 for scene in script.scenes)
    user = _user_text(brief).lower()
    # a sentence the user wrote (or a piece of one, cut at a full stop of theirs) is theirs to repeat
    sentences = [s.lower() for s in _sentences(script, brief) if s.lower().rstrip(".!?\"") not in user]
    repeated = {s for s in sentences if sentences.count(s) > 1}
    assert not repeated, repeated
    for scene in script.scenes:
        seams = [m.group(0) for m in _SEAM.finditer(scene.narration) if m.group(0).lower() not in user]
        assert not seams, (seams, scene.narration)


def test_same_brief_gives_same_script() -> None:
    brief = Brief(topic="How volcanoes form", duration=60)
    assert _script(brief) == _script(brief)


def test_topic_audience_and_goal_change_the_script() -> None:
    base = Brief(topic="How volcanoes form", duration=60, audience="children", goal="name the layers of the earth")
    others = [
        base.model_copy(update={"topic": "Why the sky is blue"}),
        base.model_copy(update={"audience": "geology students"}),
        base.model_copy(update={"goal": "explain plate tectonics"}),
        base.model_copy(update={"tone": "formal"}),
    ]
    first = _script(base)
    for other in others:
        assert _script(other) != first


def test_scene_count_and_length_follow_duration_and_density() -> None:
    for duration, density in [(10, "sparse"), (60, "balanced"), (300, "dense"), (1800, "balanced")]:
        brief = Brief(topic="Honeybees", duration=duration, density=density)
        script = _script(brief)
        scenes, words = plan_scenes(brief)
        assert len(script.scenes) == scenes
        assert script_problems(script, brief) == []
        # about 150 words per minute at the conversational pace
        assert abs(script.word_count - duration / 60 * 150) <= 0.25 * duration / 60 * 150 + 8


def test_narration_has_no_directions_or_labels() -> None:
    script = _script(Brief(topic="Photosynthesis", duration=120))
    for scene in script.scenes:
        assert not re.search(r"[\[\]*]|^scene \d", scene.narration, re.I)
        assert scene.visual_prompt and scene.title


@pytest.mark.parametrize(("topic", "form", "said"), [
    ("How honeybees communicate", "phrase", "how honeybees communicate"),
    ("Why octopuses are smart", "phrase", "why octopuses are smart"),
    ("Photosynthesis", "phrase", "Photosynthesis"),
    ("How do vaccines work?", "question", "How do vaccines work?"),
    ("Is coffee bad for you", "question", "Is coffee bad for you?"),
    ("Vaccines train the immune system.", "statement", "Vaccines train the immune system."),
    ("Wie Bienen kommunizieren", "title", "Wie Bienen kommunizieren"),
    ("蜜蜂如何交流", "title", "蜜蜂如何交流"),
])
def test_topic_form_decides_how_it_is_said(topic: str, form: str, said: str) -> None:
    language = "de" if topic.startswith("Wie") else "zh" if "蜜" in topic else "en"
    subject = topic_subject(topic, language)
    assert (subject.form, subject.spoken) == (form, said)
    script = _script(Brief(topic=topic, duration=45, language=language))
    assert said in script.scenes[0].narration
    assert_sound(script, Brief(topic=topic, duration=45, language=language))


def test_the_old_seams_are_gone() -> None:
    # issue 14: "What experts watch is where how honeybees communicate starts to make sense."
    for topic in ["How honeybees communicate", "Why octopuses are smart", "What makes a star shine"]:
        brief = Brief(topic=topic, duration=120, goal="explain the waggle dance")
        assert_sound(_script(brief), brief)


def test_a_long_topic_is_spoken_by_its_first_clause_and_titled_short() -> None:
    topic = ("The long-term effects of microplastics on coastal fisheries in Southeast Asia, and what local "
             "governments, fishing communities and consumers can realistically do about them over the next decade")
    brief = Brief(topic=topic * 2, duration=60)
    script = _script(brief)
    assert len(script.title) <= 200
    assert "the long-term effects of microplastics on coastal fisheries in Southeast Asia" in script.scenes[0].narration
    assert_sound(script, brief)


@pytest.mark.parametrize(("topic", "duration"), [
    # issue 13, defect 7: briefs the validator accepts that the old writer turned into invalid scripts
    ("The surprisingly complicated history of how ordinary people in medieval European towns kept time, "
     "measured the hours of the day, and agreed on when markets, churches and guilds should open their doors", 60),
    ("Why the price of electricity changes during the day and what households can do about it now", 60),
    ("How do honeybees tell each other where the best flowers are", 10),
    ("Seven simple habits that make a small garden produce more vegetables every single summer season", 12),
    ("x" * 500, 10),
    ("word " * 99 + "end", 1800),
])
def test_briefs_the_old_writer_failed_now_give_sound_scripts(topic: str, duration: float) -> None:
    for pacing in Pacing:
        for density in Density:
            brief = Brief(topic=topic, duration=duration, pacing=pacing, density=density)
            script = _script(brief)
            assert len(script.title) <= 200
            assert_sound(script, brief)


_HONEYBEES = """Honeybee communication

Honeybees share the location of food through the waggle dance. A forager that found good flowers returns to the \
hive and dances on the vertical comb. The angle of the waggle run against the vertical shows the direction of the \
food relative to the sun. The length of the waggle run tells the other bees how far away the food is.

Karl von Frisch decoded the waggle dance in the 1940s and shared the 1973 Nobel Prize for it. Bees also use a \
round dance for food close to the hive. Scents carried on the forager's body tell the others which flowers to look \
for.

Beekeeping is an old craft. Honey was found in Egyptian tombs. Wax is used for candles and polish."""

_WEATHER = """Weather notes

Clouds form when moist air rises and cools. Rain falls when droplets grow too heavy to stay aloft."""


def test_references_become_cited_narration() -> None:
    brief = Brief(topic="How honeybees communicate", duration=60, goal="explain the waggle dance",
                  references=(_HONEYBEES, _WEATHER))
    script = _script(brief)
    assert_sound(script, brief)
    narration = " ".join(s.narration for s in script.scenes)
    # the most relevant facts are narrated word for word, the document they come from is named
    assert "The angle of the waggle run against the vertical shows the direction of the food relative to the sun." \
        in narration
    assert "Karl von Frisch decoded the waggle dance" in narration
    assert '"Honeybee communication"' in narration
    assert "Clouds form" not in narration
    assert '"Honeybee communication"' in script.scenes[-1].narration  # the closing lists the sources
    titles = {s.title for s in script.scenes[1:-1]}
    assert any("waggle" in t.lower() for t in titles), titles
    # footage is searched for by what each scene shows
    assert any("waggle" in q for s in script.scenes for q in s.queries)


def test_key_phrase_names_what_a_passage_is_about() -> None:
    text = "Bees dance. The waggle dance shows direction. The waggle dance also shows distance."
    assert key_phrase(text) == "the waggle dance"
    assert key_phrase("") == ""


# --- every brief the validator accepts ---------------------------------------------------------------------------

_NOUNS = ["honeybees", "black holes", "photosynthesis", "the French Revolution", "compound interest", "sourdough bread",
          "machine learning", "volcanoes", "the immune system", "jazz", "tax returns", "octopuses", "Rust", "sleep"]
_FORMS = [
    "{n}", "How {n} work", "Why {n} matter", "What makes {n} special", "How do {n} work?", "Is {n} overrated?",
    "{n} explained for beginners", "The history of {n}", "{n} are misunderstood.", "Can {n} change?",
    "Everything you need to know about {n}, from the basics to the latest research and open questions",
    "{n}: a guide", "Understanding {n}", "Where {n} come from", "{n} vs. {n}", "Should you care about {n}",
]
_FOREIGN = ["Wie Bienen kommunizieren", "Comment fonctionne la photosynthèse ?", "蜜蜂如何交流", "Как летают пчёлы",
            "كيف تتواصل النحل", "Por qué soñamos", "ミツバチのダンス"]
_topics = st.one_of(
    st.builds(lambda f, n: f.replace("{n}", n), st.sampled_from(_FORMS), st.sampled_from(_NOUNS)),
    st.sampled_from(_FOREIGN),
    st.lists(st.sampled_from(_NOUNS + ["and", "of", "the", "why", "how", "is", "?", ",", "."]), min_size=1,
             max_size=90).map(" ".join),
    st.text(min_size=1, max_size=500),
).map(lambda t: t[:500])
_free = st.one_of(st.text(max_size=60), st.sampled_from(["", "curious teenagers", "nurses", "a general audience"]))
_goals = st.one_of(st.text(max_size=300), st.sampled_from(
    ["", "explain the waggle dance", "to know when to see a doctor", "Viewers can budget a month", "be able to cook"]))
_tones = st.one_of(st.text(max_size=60), st.sampled_from(["friendly", "formal", "playful", "serious", "upbeat"]))


@st.composite
def _briefs(draw: st.DrawFn, references: bool = False) -> Brief:
    values = {
        "topic": draw(_topics),
        "audience": draw(st.one_of(_free, st.text(max_size=200))),
        "goal": draw(_goals),
        "tone": draw(_tones),
        "language": draw(st.sampled_from(["en", "en-US", "de", "fr", "zh", "ar", "pt-BR", "ja"])),
        "duration": draw(st.one_of(st.floats(MIN_DURATION, 90), st.floats(MIN_DURATION, MAX_DURATION),
                                   st.sampled_from([MIN_DURATION, 11.0, 12.0, MAX_DURATION]))),
        "pacing": draw(st.sampled_from(list(Pacing))),
        "density": draw(st.sampled_from(list(Density))),
        "aspect": draw(st.sampled_from(list(Aspect))),
        "visual_style": draw(st.text(max_size=200)),
    }
    if references:
        values["references"] = tuple(draw(st.lists(st.one_of(
            st.sampled_from([_HONEYBEES, _WEATHER, _HONEYBEES.replace("\n\n", " ")]), st.text(max_size=600)),
            min_size=1, max_size=3)))
    try:
        return Brief(**values)
    except ValidationError:
        assume(False)
        raise


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(_briefs())
def test_every_valid_brief_gives_a_sound_script(brief: Brief) -> None:
    assert_sound(_script(brief), brief)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(_briefs(references=True))
def test_every_valid_brief_with_references_gives_a_sound_script(brief: Brief) -> None:
    assert_sound(_script(brief), brief)
