"""Footage search terms from a scene's text, for writers that do not ask a model for them (pure, no I/O).

Stock libraries match short keyword queries ("ocean waves", "moon"), not sentences: the terms are
the scene's most telling content words (frequent in the scene, longest first on ties), paired,
with the topic's own keywords as the last, broadest query. Words are kept as written: the text is
not translated, so non-English narration gives non-English terms (an LLM writer gives English).
"""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["STOPWORDS", "footage_queries", "keywords"]

_STOPWORDS_TEXT = """
a about above after again against all almost also although always am among an and another any anyone are
around as at away back be became because become becomes been before being below between both but by can
cannot could did do does doing done down during each either enough even ever every few first for from
further get gets getting give given gives go goes going got had has have having he her here hers herself
him himself his how however i if in into is it its itself just keep know known last later least less let
like made make makes many may me might more most much must my myself near need needs never new next no nor
not now of off often on once one only or other others our ours ourselves out over own part per perhaps
quite rather really right same see seen she should show shows simply since so some something sometimes
still such take takes than that the their theirs them themselves then there these they thing things this
those though through thus to today together too toward towards two under until up upon us use used uses
using very via want was way ways we well went were what when where whether which while who whom whose why
will with within without would yet you your yours yourself yourselves let's it's that's there's here's
what's don't doesn't isn't aren't can't won't we're you're they're i'm we'll you'll watch video explain
explains explained explainer learn lets called call says said look looks looking kind lot lots bit
making start started starts work works working happen happens happened turn turns turned found find
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

_WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)


def keywords(text: str, limit: int = 6) -> list[str]:
    """The most telling content words of `text`: frequent first, then longer, then earlier."""
    words = [w.strip("'-").lower() for w in _WORD.findall(text)]
    words = [w for w in words if len(w) >= 3 and w not in STOPWORDS]
    counts = Counter(words)
    first = {w: i for i, w in reversed(list(enumerate(words)))}
    ranked = sorted(counts, key=lambda w: (-counts[w], -min(len(w), 9), first[w]))
    return ranked[:limit]


def footage_queries(text: str, topic: str) -> list[str]:
    """1–3 short search queries (keyword pairs) for stock footage of a scene about `topic`."""
    topic_words = keywords(topic, 3)
    scene_words = [w for w in keywords(text, 6) if w not in topic_words]
    queries: list[str] = []
    if scene_words:
        queries.append(" ".join(scene_words[:2]))
    if len(scene_words) > 2:
        queries.append(" ".join(scene_words[2:4]))
    if topic_words:
        queries.append(" ".join(topic_words[:2]))
    if not queries:  # nothing but stopwords: the topic as written is still the best query there is
        queries.append(" ".join(topic.split()[:3]) or "nature")
    unique = list(dict.fromkeys(q for q in queries if q))
    return unique[:3]
