"""Stage 2: the script. Planning, prompts, parsing and checks are pure; one task calls the writer."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import task
from pydantic import ValidationError

from providers.base import Reference, ScriptRequest
from providers.errors import InvalidOutputError
from providers.registry import resolve
from providers.settings import get_settings
from tasks.preflight import BriefError
from tasks.references import reference_block, select_passages, source_title
from tasks.runtime.caching import resumable
from tasks.runtime.fallback import chain_for, with_fallback
from tasks.runtime.profiles import DEFAULT_RETRIES, active_profile
from tasks.runtime.retry import retry_transient
from tasks.schemas import Brief, Density, Pacing, Script

__all__ = [
    "WORDS_PER_MINUTE",
    "build_request",
    "clean_narration",
    "clean_title",
    "length_note",
    "ScriptFileError",
    "draft_script",
    "given_script",
    "load_script_file",
    "parse_script",
    "plan_scenes",
    "script_file_text",
    "script_problems",
    "write_script",
]

WORDS_PER_MINUTE: dict[Pacing, int] = {Pacing.chill: 130, Pacing.conversational: 150, Pacing.fast: 175}
SECONDS_PER_SCENE: dict[Density, float] = {Density.sparse: 12.0, Density.balanced: 7.5, Density.dense: 5.0}
MAX_SCENES = 240

_DIRECTIONS = re.compile(r"\[[^\]]*\]|\*\*?[^*]+\*\*?|\((?:pause|music|sfx|beat|laughs?|sighs?)[^)]*\)", re.I)
_LABELS = re.compile(r"^\s*(?:scene|narrator|voice[- ]?over|vo)\s*\d*\s*[:.\-–]\s*", re.I)
# markdown a writer may wrap its text in: links keep their text, headings, list markers, code and emphasis marks go
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_LINE_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+•]\s+|\d{1,3}[.)]\s+)")
_INLINE_MARKUP = re.compile(r"`+|(?<!\w)_{1,2}(?=\S)|(?<=\S)_{1,2}(?!\w)")
_TITLE_MARKUP = re.compile(r"[#*_`>]+")
TITLE_CHARS = 200  # Script's and Scene's limit on a title
PROMPT_CHARS = 1000  # Scene's limit on a visual prompt
LENGTH_RANGE = (0.5, 2.0)  # narration this far from the target is used as it is: the video follows the speech


def plan_scenes(brief: Brief) -> tuple[int, int]:
    """Scene count from duration and density, and words per scene at the pacing's speaking rate."""
    scenes = max(1, min(MAX_SCENES, round(brief.duration / SECONDS_PER_SCENE[brief.density])))
    words_total = brief.duration / 60 * WORDS_PER_MINUTE[brief.pacing]
    return scenes, max(4, math.ceil(words_total / scenes))


def script_schema() -> dict[str, Any]:
    """The JSON schema a writer must fill: no defaults, every field required."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["title", "scenes"],
        "properties": {
            "title": {"type": "string"},
            "scenes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["title", "narration", "visual_prompt", "queries"],
                    "properties": {
                        "title": {"type": "string"},
                        "narration": {"type": "string"},
                        "visual_prompt": {"type": "string"},
                        # footage search terms: stock libraries match short English keywords
                        "queries": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    }


def build_request(brief: Brief, seed: int = 0, problems: Sequence[str] = ()) -> ScriptRequest:
    """The prompts and plan for `brief`; `problems` are those of a rejected first script, fed back."""
    scenes, words = plan_scenes(brief)
    system = (
        "You write narration scripts for short explainer videos. Write only the words the narrator says: "
        "no stage directions, no brackets, no 'Scene 1:' labels, no word counts. "
        "For every scene give a short title, the narration, one concrete visual prompt describing a single image, "
        "and 1-3 footage search queries: two or three English words each, concrete nouns and actions a stock "
        "video library would have (e.g. 'ocean waves', 'moon night sky'), in English whatever the narration's language."
    )
    user = (
        f"Topic: {brief.topic}\nAudience: {brief.audience}\n"
        f"Goal: {brief.goal or 'understand the topic'}\nTone: {brief.tone}\nLanguage: {brief.language}\n"
        f"Visual style: {brief.visual_style}\n"
        f"Write exactly {scenes} scenes of about {words} words of narration each "
        f"(about {scenes * words} words in all, {brief.duration:.0f} seconds spoken)."
    )
    query = f"{brief.topic} {brief.goal}"
    budget = get_settings().reference_words
    references = reference_block(brief.references, query, budget)
    # the same passages as values, for writers without a model (the local writer narrates from them)
    passages = tuple(Reference(source=source_title(brief.references[p.document], p.document), text=p.text)
                     for p in select_passages(brief.references, query, budget)) if references else ()
    if references:
        user = f"{references}\n\n{user}"
    if problems:
        user += (
            "\n\nA first script for this brief was rejected: " + "; ".join(problems) + ". Write the whole "
            f"script again and fix this: exactly {scenes} scenes, each with about {words} words of narration."
        )
    return ScriptRequest(
        system=system, user=user, json_schema=script_schema(),
        brief=brief.model_dump(mode="json", exclude={"references"}), scene_count=scenes,
        words_per_scene=words, seed=seed, references=passages,
    )


def clean_narration(text: str) -> str:
    """Remove stage directions, bracketed notes, scene labels and markdown so that they are never spoken."""
    text = _LINK.sub(r"\1", text)
    text = "\n".join(_LINE_MARKUP.sub("", line) for line in text.splitlines())
    text = _DIRECTIONS.sub(" ", text)
    text = "\n".join(_LABELS.sub("", line) for line in text.splitlines())
    text = _INLINE_MARKUP.sub("", text)
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary where there is one, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,;:-–") + "…"


def clean_title(text: Any, limit: int = TITLE_CHARS) -> str:
    """A title without markdown marks, labels or surrounding quotes, on one line, shortened to `limit`."""
    title = " ".join(_TITLE_MARKUP.sub(" ", _LINK.sub(r"\1", str(text or ""))).split())
    title = _LABELS.sub("", title).strip(" \"'“”‘’")
    return shorten(title, limit)


def _lenient_scene(scene: dict[str, Any], index: int) -> dict[str, Any]:
    """One scene taken leniently: cleaned narration, a title and a visual prompt that fit, made up if missing."""
    narration = clean_narration(str(scene.get("narration") or ""))
    title = clean_title(scene.get("title")) or clean_title(" ".join(narration.split()[:6]), 60) or f"Part {index + 1}"
    prompt = " ".join(str(scene.get("visual_prompt") or "").split()) or f"{title}, illustrated"
    return {**scene, "title": title, "narration": narration, "visual_prompt": shorten(prompt, PROMPT_CHARS)}


def parse_script(data: dict[str, Any] | str) -> Script:
    """Turn a writer's JSON (object or text) into a clean `Script`, or raise InvalidOutputError."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidOutputError(f"the script is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidOutputError("the script must be a JSON object with 'title' and 'scenes'")
    raw = data.get("scenes")
    if not isinstance(raw, list) or not any(isinstance(scene, dict) for scene in raw):
        raise InvalidOutputError("the script has no scenes")
    # lenient where it is safe: titles and prompts are tidied and shortened; strict where it is not: a scene
    # whose narration is empty once directions and markup are gone is dropped, and a script left without any fails
    scenes = [_lenient_scene(scene, i) for i, scene in enumerate(s for s in raw if isinstance(s, dict))]
    spoken = [scene for scene in scenes if scene["narration"]]
    if not spoken:
        raise InvalidOutputError("the script's scenes have no narration")
    title = clean_title(data.get("title")) or spoken[0]["title"]
    try:
        return Script.model_validate({"title": title, "scenes": spoken})
    except ValidationError as exc:
        raise InvalidOutputError(f"the script does not match the schema: {exc.errors()[0]['msg']}") from exc


class ScriptFileError(BriefError):
    """A script given by the user cannot be used; the message names the scene and the field."""


def _where(loc: Sequence[int | str]) -> str:
    """'scene 2: narration' for pydantic's ('scenes', 1, 'narration')."""
    parts = list(loc)
    if len(parts) >= 2 and parts[0] == "scenes" and isinstance(parts[1], int):
        rest = ".".join(str(p) for p in parts[2:])
        return f"scene {parts[1] + 1}" + (f": {rest}" if rest else "")
    return ".".join(str(p) for p in parts) or "script"


def given_script(data: dict[str, Any] | Script) -> Script:
    """A user's script, checked like a writer's: stage directions removed; errors name the scene and field."""
    raw = data.model_dump(mode="json") if isinstance(data, Script) else data
    if not isinstance(raw, dict):
        raise ScriptFileError("a script is a JSON object with 'title' and 'scenes'")
    scenes = raw.get("scenes")
    if isinstance(scenes, list):
        cleaned = []
        for number, scene in enumerate(scenes, 1):
            if isinstance(scene, dict) and isinstance(scene.get("narration"), str):
                narration = clean_narration(scene["narration"])
                if not narration:
                    what = "stage directions only, nothing to speak" if scene["narration"].strip() else "empty"
                    raise ScriptFileError(f"scene {number}: narration: {what}")
                scene = {**scene, "narration": narration}
            cleaned.append(scene)
        raw = {**raw, "scenes": cleaned}
    try:
        return Script.model_validate({k: v for k, v in raw.items() if k != "brief"})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ScriptFileError(f"{_where(first['loc'])}: {first['msg']}") from exc


def load_script_file(path: str | Path) -> tuple[Brief | None, Script]:
    """The brief (if the file records one) and the script in a script file written by `aura script`."""
    where = Path(path)
    if not where.is_file():
        raise ScriptFileError(f"script file {where} does not exist")
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScriptFileError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ScriptFileError(f"{where}: a script is a JSON object with 'title' and 'scenes'")
    brief = None
    if data.get("brief") is not None:
        try:
            brief = Brief.model_validate(data["brief"])
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ScriptFileError(f"{where}: brief: {_where(first['loc'])}: {first['msg']}") from exc
    try:
        return brief, given_script(data)
    except ScriptFileError as exc:
        raise ScriptFileError(f"{where}: {exc}") from exc


def script_file_text(script: Script, brief: Brief | None = None) -> str:
    """The JSON a script file holds: the brief it was written for, the title and the scenes."""
    body: dict[str, Any] = {}
    if brief is not None:
        body["brief"] = brief.model_dump(mode="json", exclude={"references"})
    body.update(script.model_dump(mode="json", include={"title", "scenes"}))
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def script_problems(script: Script, brief: Brief) -> list[str]:
    """What is wrong with `script` for `brief`: far too few scenes, or a length beyond LENGTH_RANGE of the target.

    A scene more or fewer than planned, and a length within the range, are taken as they are.
    """
    scenes, words = plan_scenes(brief)
    target = scenes * words
    problems = []
    if len(script.scenes) < max(1, min(scenes - 1, scenes // 2)):
        problems.append(f"only {len(script.scenes)} scenes; write {scenes}")
    low, high = LENGTH_RANGE
    if not low * target <= script.word_count <= high * target:
        problems.append(f"{script.word_count} words of narration; write about {target}")
    return problems


def length_note(script: Script, brief: Brief) -> str | None:
    """How far the narration is from the target length, when it is off by more than a fifth; else None."""
    scenes, words = plan_scenes(brief)
    target = scenes * words
    ratio = script.word_count / target
    if 0.8 <= ratio <= 1.25:
        return None
    return (f"{script.word_count} words of narration for about {target} asked ({ratio:.2g}× the target): "
            "the video follows the speech")


def draft_script(writer: Any, brief: Brief, spec: str) -> Script:
    """One writer's script for `brief`: a second try with the problems fed back, then a clear failure."""
    problems: list[str] = []
    tokens = [0, 0]
    for _attempt in range(2):
        # an unusable answer (not JSON even after the writer's own repair request) is not retried here:
        # the writer already asked once more, and another round would double the paid calls
        response = writer.write_script(build_request(brief, problems=problems))
        tokens = [tokens[0] + response.prompt_tokens, tokens[1] + response.completion_tokens]
        try:
            script = parse_script(response.data)
        except InvalidOutputError as exc:
            problems = [str(exc)]
            continue
        problems = script_problems(script, brief)
        if not problems:
            return script.model_copy(update={"prompt_tokens": tokens[0], "completion_tokens": tokens[1],
                                             "provider": spec, "length_note": length_note(script, brief)})
    raise InvalidOutputError(f"the script from {spec} is unusable after a retry: {'; '.join(problems)}")


def script_time_limit() -> tuple[float, str]:
    """The longest one writer request may take within the profile's limit for the stage, and how to allow more.

    A request that outlived the stage would end in Prefect's TaskRunTimeoutError (a long traceback);
    cut a little shorter, it ends in the writer's own one-line timeout error naming what to change.
    """
    profile = active_profile()
    limit = profile.script_timeout
    return 0.8 * limit, (f"the {profile.name} profile gives the script {limit:g} s; for a slower writer use "
                         "another profile (--profile default or AURA_PROFILE)")


# no Prefect timeout: the writer's request itself ends within the stage's time (`script_time_limit`), and a
# Prefect timeout could not interrupt it when the flow runs in a worker thread (a batch), only warn on every run
@task(name="write_script", cache_policy=resumable(code_of="llm"), persist_result=True, retries=DEFAULT_RETRIES,
      retry_delay_seconds=0, retry_condition_fn=retry_transient)
def write_script(brief: Brief, llm: str, given: Script | None = None) -> Script:
    """Ask the writer named by `llm` (then the configured fallbacks) for a script; a `given` one skips the writer."""
    if given is not None:
        return given_script(given).model_copy(update={"provider": "user"})
    chain = chain_for(llm, get_settings().fallbacks("llm"))
    try:
        outcome = with_fallback("llm", chain, lambda writer, spec: draft_script(writer, brief, spec),
                                time_limit=script_time_limit())
    except InvalidOutputError as exc:
        if not active_profile().template_on_invalid_script or "local" in chain:
            raise
        # quick-demo: a demo must not die on a bad LLM answer; the template writer never fails validation
        script = draft_script(resolve("llm", "local"), brief, "local")
        return script.model_copy(update={"fallback_reason": f"{llm}: {exc}"})
    return outcome.value.model_copy(update={"fallback_reason": outcome.fallback_reason})
