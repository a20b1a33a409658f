"""Reference material for a script: the passages of the user's documents most relevant to the brief.

The user gives a few documents as text (pages or files they fetched themselves). Each document is
cut into passages of about 120 words along paragraph boundaries (long paragraphs in overlapping
windows); passages are ranked with Okapi BM25 (k1 = 1.5, b = 0.75) against the topic and goal;
the best are taken until a word budget is spent, and handed to the prompt in document order so
that they read naturally. When no passage shares a word with the query, the opening passage of
each document is used. No model, no index, no network: a handful of documents takes milliseconds.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Passage", "bm25", "reference_block", "select_passages", "source_title", "split_passages", "terms"]

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(_WORD.findall(
    "a an and are as at be but by can do does for from has have how i if in into is it its of on or our so "
    "than that the their them then there these they this to was we were what when where which who why will "
    "with you your about after also more most not only other over some such very"
))


@dataclass(frozen=True)
class Passage:
    """One passage: which document it came from, where in it, its text and its score."""

    document: int
    position: int
    text: str
    score: float = 0.0

    @property
    def words(self) -> int:
        """Its length in words."""
        return len(self.text.split())


def terms(text: str) -> list[str]:
    """Lower-case word terms without stop words, with a crude plural strip (bees → bee)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in _STOP or len(word) < 2:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


def split_passages(text: str, size: int = 120, overlap: int = 20) -> list[str]:
    """Passages of about `size` words: short paragraphs joined, long ones cut in overlapping windows."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    passages: list[str] = []
    current: list[str] = []
    for paragraph in paragraphs:
        words = paragraph.split()
        if len(words) > size:
            if current:
                passages.append(" ".join(current))
                current = []
            step = max(1, size - overlap)
            for start in range(0, len(words), step):
                passages.append(" ".join(words[start:start + size]))
                if start + size >= len(words):
                    break
            continue
        if current and len(current) + len(words) > size:
            passages.append(" ".join(current))
            current = []
        current.extend(words)
    if current:
        passages.append(" ".join(current))
    return passages


def bm25(query: Sequence[str], documents: Sequence[Sequence[str]], k1: float = 1.5,
         b: float = 0.75) -> list[float]:
    """Okapi BM25 score of each tokenised document for the query terms."""
    n = len(documents)
    if not n:
        return []
    average = sum(len(d) for d in documents) / n or 1.0
    frequency = Counter(term for d in documents for term in set(d))
    scores = []
    for doc in documents:
        counts = Counter(doc)
        score = 0.0
        for term in set(query):
            tf = counts.get(term, 0)
            if not tf:
                continue
            idf = math.log(1 + (n - frequency[term] + 0.5) / (frequency[term] + 0.5))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / average))
        scores.append(score)
    return scores


def select_passages(documents: Sequence[str], query: str, budget_words: int = 900) -> list[Passage]:
    """The passages most relevant to `query`, up to `budget_words` words, in document order."""
    if budget_words <= 0:
        return []
    passages = [Passage(d, i, text) for d, doc in enumerate(documents)
                for i, text in enumerate(split_passages(doc))]
    if not passages:
        return []
    scores = bm25(terms(query), [terms(p.text) for p in passages])
    ranked = sorted(
        (Passage(p.document, p.position, p.text, s) for p, s in zip(passages, scores, strict=True)),
        key=lambda p: (-p.score, p.document, p.position),
    )
    if ranked[0].score <= 0:  # nothing matches: the opening of each document
        ranked = sorted(passages, key=lambda p: (p.position, p.document))
    chosen: list[Passage] = []
    used = 0
    for passage in ranked:
        if passage.score <= 0 and chosen and ranked[0].score > 0:
            break
        if used + passage.words > budget_words:
            if chosen:
                continue
            passage = Passage(passage.document, passage.position,
                              " ".join(passage.text.split()[:budget_words]), passage.score)
        chosen.append(passage)
        used += passage.words
    return sorted(chosen, key=lambda p: (p.document, p.position))


def source_title(document: str, index: int) -> str:
    """A document's name for citing it: its first line when that is short, else 'document N'."""
    first = document.strip().splitlines()[0].strip() if document.strip() else ""
    return first[:80] if 0 < len(first) <= 120 else f"document {index + 1}"


def reference_block(documents: Sequence[str], query: str, budget_words: int = 900) -> str:
    """The prompt section quoting the chosen passages, or '' when there are no documents."""
    passages = select_passages(documents, query, budget_words)
    if not passages:
        return ""
    lines = ["Reference material from the user. Use it for facts; do not mention it or quote it at length:"]
    for p in passages:
        lines.append(f"[{p.document + 1}: {source_title(documents[p.document], p.document)}] {p.text}")
    return "\n".join(lines)
