"""Mapping a neural voice's phonemes back to the written words (providers/tts/words.py)."""

from __future__ import annotations

import numpy as np

from providers.tts.words import plan_phonemes, speak_all, split_utterances, word_timings


def test_sentences_split_at_their_ends_but_not_after_abbreviations() -> None:
    parts = split_utterances("Dr. Lee counted 150 bees. They danced — twice! Then, quiet")
    assert [(u.first, u.words) for u in parts] == [
        (0, ("Dr.", "Lee", "counted", "150", "bees.")), (5, ("They", "danced", "—", "twice!")), (9, ("Then,", "quiet"))]


def test_a_long_sentence_is_cut_at_a_comma_within_the_limit() -> None:
    text = "one two three, four five six seven eight nine ten."
    parts = split_utterances(text, max_chars=30)
    assert [" ".join(u.words) for u in parts] == ["one two three,", "four five six seven eight nine", "ten."]
    assert sum(len(u.words) for u in parts) == len(text.split())


def test_numbers_that_become_several_phoneme_words_keep_one_owner() -> None:
    words = ("share", "150", "ways.")
    whole = list("ʃˈɛɹ wˈʌnhˈʌndɹɪd fˈɪfti wˈeɪz.")
    per_word = [list("ʃˈɛɹ"), list("wˈʌnhˈʌndɹɪd fˈɪfti"), list("wˈeɪz.")]
    symbols, owners = plan_phonemes(words, whole, per_word)
    assert symbols == whole  # the sentence's own phonemes (its stress), since the counts agree
    spoken = "".join(s for s, o in zip(symbols, owners, strict=True) if o == 1)
    assert spoken == "wˈʌnhˈʌndɹɪdfˈɪfti"


def test_when_the_sentence_does_not_split_into_the_words_their_own_phonemes_are_spoken() -> None:
    words = ("of", "the", "hive")
    whole = list("ʌvðə hˈaɪv")  # two words merged into one: counts disagree
    per_word = [list("ˈʌv"), list("ðə"), list("hˈaɪv")]
    symbols, owners = plan_phonemes(words, whole, per_word)
    assert "".join(symbols) == "ˈʌv ðə hˈaɪv"
    assert [o for s, o in zip(symbols, owners, strict=True) if s == " "] == [-1, -1]
    assert {o for o in owners if o >= 0} == {0, 1, 2}


def test_a_dash_gets_the_instant_where_it_stands_and_words_run_to_the_next() -> None:
    words = ("bees", "—", "fly.")
    symbols = list("bˈiːz — flˈaɪ.")
    _, owners = plan_phonemes(words, symbols, [list("bˈiːz"), list("—"), list("flˈaɪ.")])
    spans = [(i * 0.1, i * 0.1 + 0.1) for i in range(len(symbols))]
    timed = word_timings(words, symbols, owners, spans, offset=1.0)
    assert [w.word for w in timed] == list(words)
    assert timed[0].start == 1.0 and timed[0].end == timed[1].start == timed[1].end == timed[2].start
    assert abs(timed[2].end - (1.0 + 0.1 * (len(symbols) - 1))) < 1e-9  # the final mark is not part of the word


def test_utterances_are_joined_with_their_timings_shifted_and_the_edges_faded() -> None:
    rate = 1000

    def speak(utterance):
        audio = np.concatenate([np.zeros(100), np.ones(300), np.zeros(100)]).astype(np.float32)
        from providers.base import WordTiming

        words = [WordTiming(word=w, start=0.1 + 0.3 * i / len(utterance.words),
                            end=0.1 + 0.3 * (i + 1) / len(utterance.words)) for i, w in enumerate(utterance.words)]
        return audio, words, False

    audio, words, estimated = speak_all("One two. Three.", speak, rate)
    assert len(audio) == 1000 and not estimated
    assert [(w.word, round(w.start, 3), round(w.end, 3)) for w in words] == [
        ("One", 0.1, 0.25), ("two.", 0.25, 0.4), ("Three.", 0.6, 0.9)]
    assert audio[0] == 0 and audio[-1] == 0
