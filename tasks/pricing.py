"""What a run costs in US dollars: an estimate before it starts and the total of what it used.

Prices come from the settings' table (`AURA_PRICES`, keyed `vendor:model` or `vendor`). The
estimate counts one script attempt, the narration's characters at about six per word and one
image per scene; tokens are words × 4/3. Specs without a price count as 0 and are listed in
`unpriced`. Every function here is pure apart from reading the default price table.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from providers.errors import ConfigurationError
from providers.registry import parse_spec
from providers.settings import Price, get_settings

__all__ = [
    "BudgetExceededError",
    "Cost",
    "CostLine",
    "actual_cost",
    "check_budget",
    "estimate_cost",
    "price_for",
]

TOKENS_PER_WORD = 4 / 3
CHARS_PER_WORD = 6.0  # five letters and a space, on average in English narration
PROMPT_TOKENS = 450  # system and user prompt without reference material
SCENE_OVERHEAD_WORDS = 30  # title, visual prompt and JSON punctuation per scene


class BudgetExceededError(ConfigurationError):
    """The run's estimated cost is above its budget."""


class CostLine(BaseModel):
    """One capability's share of the cost."""

    model_config = ConfigDict(frozen=True)

    capability: str
    spec: str
    quantity: float = Field(ge=0)
    unit: str
    usd: float = Field(ge=0)
    priced: bool = True


class Cost(BaseModel):
    """A run's cost, estimated or actual, by capability."""

    model_config = ConfigDict(frozen=True)

    lines: tuple[CostLine, ...]
    estimated: bool

    @property
    def total_usd(self) -> float:
        """The sum of the lines, in US dollars."""
        return round(sum(line.usd for line in self.lines), 6)

    @property
    def unpriced(self) -> tuple[str, ...]:
        """Specs the price table does not know (counted as 0)."""
        return tuple(line.spec for line in self.lines if not line.priced)

    def summary(self) -> str:
        """One line for a CLI or a log, e.g. 'about $0.0312: llm 2,400 tokens $0.0014, ...'."""
        parts = [f"{line.capability} {line.quantity:,.0f} {line.unit} ${line.usd:.4f}" for line in self.lines]
        head = f"{'about ' if self.estimated else ''}${self.total_usd:.4f}"
        tail = f" (no price for {', '.join(self.unpriced)})" if self.unpriced else ""
        return f"{head}: {', '.join(parts)}{tail}"


def price_for(spec: str, prices: Mapping[str, Price] | None = None) -> Price | None:
    """The price of `spec`: its `vendor:model` entry, else its vendor's, else None."""
    table = get_settings().prices if prices is None else prices
    vendor, model = parse_spec(spec)
    for key in (f"{vendor}:{model}", vendor):
        if key in table:
            return table[key]
    return None


def _llm(spec: str, prompt: float, completion: float, prices: Mapping[str, Price] | None) -> CostLine:
    price = price_for(spec, prices)
    usd = (prompt * price.input_per_1k + completion * price.output_per_1k) / 1000 if price else 0.0
    return CostLine(capability="llm", spec=spec, quantity=round(prompt + completion), unit="tokens",
                    usd=round(usd, 6), priced=price is not None)


def _tts(spec: str, characters: float, prices: Mapping[str, Price] | None) -> CostLine:
    price = price_for(spec, prices)
    usd = characters * price.per_1k_chars / 1000 if price else 0.0
    return CostLine(capability="tts", spec=spec, quantity=round(characters), unit="characters",
                    usd=round(usd, 6), priced=price is not None)


def _images(spec: str, count: int, prices: Mapping[str, Price] | None) -> CostLine:
    price = price_for(spec, prices)
    usd = count * price.per_image if price else 0.0
    return CostLine(capability="images", spec=spec, quantity=count, unit="images", usd=round(usd, 6),
                    priced=price is not None)


def estimate_cost(scene_count: int, words_per_scene: int, *, llm: str, tts: str, images: str,
                  reference_words: int = 0, attempts: int = 1,
                  prices: Mapping[str, Price] | None = None) -> Cost:
    """The expected cost of a run planned as `scene_count` scenes of `words_per_scene` words.

    `attempts` = 2 gives the worst case in which the script is written twice.
    """
    words = scene_count * words_per_scene
    prompt = (PROMPT_TOKENS + reference_words * TOKENS_PER_WORD) * attempts
    completion = (words + scene_count * SCENE_OVERHEAD_WORDS) * TOKENS_PER_WORD * attempts
    return Cost(estimated=True, lines=(
        _llm(llm, prompt, completion, prices),
        _tts(tts, words * CHARS_PER_WORD, prices),
        _images(images, scene_count, prices),
    ))


def actual_cost(*, llm: str, tts: str, images: str, prompt_tokens: int, completion_tokens: int,
                characters: int, images_made: int, prices: Mapping[str, Price] | None = None) -> Cost:
    """The cost of what a run used: tokens reported by the LLM, characters spoken, images made."""
    return Cost(estimated=False, lines=(
        _llm(llm, prompt_tokens, completion_tokens, prices),
        _tts(tts, characters, prices),
        _images(images, images_made, prices),
    ))


def check_budget(cost: Cost, budget: float | None) -> None:
    """Raise BudgetExceededError when `cost` is above `budget` (None: no budget)."""
    if budget is not None and cost.total_usd > budget:
        raise BudgetExceededError(
            f"the estimated cost {cost.summary()} is above the budget of ${budget:.4f}: raise the budget "
            "or choose cheaper providers (local ones cost nothing)"
        )
