"""A run's cost: estimated from the script plan before any paid call, totalled from usage after."""

from __future__ import annotations

from collections.abc import Sequence

from providers.settings import get_settings
from tasks.pricing import Cost, actual_cost, check_budget, estimate_cost
from tasks.schemas import Brief, Providers, SceneImage, Script
from tasks.script import plan_scenes

__all__ = ["estimate_run", "spent"]


def estimate_run(brief: Brief, providers: Providers, budget: float | None = None) -> Cost:
    """The expected cost of rendering `brief`; raises BudgetExceededError when it is over the budget."""
    settings = get_settings()
    scenes, words = plan_scenes(brief)
    reference_words = min(settings.reference_words, sum(len(doc.split()) for doc in brief.references))
    estimate = estimate_cost(scenes, words, llm=providers.llm, tts=providers.tts, images=providers.images,
                             reference_words=reference_words)
    check_budget(estimate, budget if budget is not None else settings.budget)
    return estimate


def spent(script: Script, pictures: Sequence[SceneImage], providers: Providers) -> Cost:
    """What the video cost: tokens the LLM reported, characters spoken, images made by the paid provider."""
    return actual_cost(
        llm=script.provider, tts=providers.tts, images=providers.images, prompt_tokens=script.prompt_tokens,
        completion_tokens=script.completion_tokens, characters=sum(len(s.narration) for s in script.scenes),
        images_made=sum(not p.degraded for p in pictures),
    )
