"""Pure helpers behind the vendor providers: error translation, secrets, retrieval and cost."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import pytest

from providers.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentRejectedError,
    InvalidOutputError,
    TransientError,
)
from providers.remote.secrets import get_secret
from providers.remote.vendor_errors import from_status, redact, retry_after
from providers.settings import Price, get_settings
from tasks.pricing import BudgetExceededError, actual_cost, check_budget, estimate_cost, price_for
from tasks.references import bm25, reference_block, select_passages, split_passages, terms

# --- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error"), [
    (401, AuthenticationError), (403, AuthenticationError), (400, BadRequestError), (404, BadRequestError),
    (422, BadRequestError), (429, TransientError), (408, TransientError), (500, TransientError),
    (503, TransientError), (200, InvalidOutputError),
])
def test_status_codes_map_onto_the_error_tree(status: int, error: type[Exception]) -> None:
    assert type(from_status(status, "V", body={"error": {"message": "m"}})) is error


def test_policy_refusals_and_retry_after() -> None:
    body = {"error": {"message": "rejected", "code": "content_policy_violation"}}
    assert isinstance(from_status(400, "V", body=body), ContentRejectedError)
    assert retry_after({"Retry-After": "12"}) == 12
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after({"Retry-After": later}) or 0) <= 31
    assert retry_after({"Retry-After": "soon"}) is None and retry_after(None) is None
    err = from_status(429, "V", headers={"Retry-After": "3"})
    assert isinstance(err, TransientError) and err.retry_after == 3


def test_messages_never_carry_keys() -> None:
    body = {"error": {"message": "Incorrect API key provided: sk-abc123456789"}}
    err = from_status(401, "OpenAI", body=body, key_variable="OPENAI_API_KEY")
    assert "sk-abc" not in str(err) and "OPENAI_API_KEY" in str(err)
    err = from_status(400, "V", body={"detail": {"message": "bad value my-own-secret-xyz"}},
                      secrets=("my-own-secret-xyz",))
    assert "my-own-secret" not in str(err)
    assert redact("key sk-proj-ABCDEFGHijkl and xi-0123456789abcdef ok") == "key *** and *** ok"


# --- secrets ---------------------------------------------------------------------------------------------


def test_keys_come_from_the_environment_or_dotenv(vendor_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    vendor_env.chdir(tmp_path)
    (tmp_path / ".env").write_text("ELEVENLABS_API_KEY=from-dotenv\n")
    get_settings.cache_clear()
    assert get_secret(get_settings().elevenlabs_api_key, "ELEVENLABS_API_KEY", "b", "k") == "from-dotenv"
    assert "from-dotenv" not in repr(get_settings())
    vendor_env.setenv("ELEVENLABS_API_KEY", "from-env")
    get_settings.cache_clear()
    assert get_settings().elevenlabs_api_key.get_secret_value() == "from-env"  # type: ignore[union-attr]


def test_missing_key_names_the_variable_and_the_block(vendor_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="set the environment variable OPENAI_API_KEY"):
        get_secret(None, "OPENAI_API_KEY", "openai-api-key", "the OpenAI API key")
    vendor_env.setenv("AURA_SECRET_BLOCKS", "true")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="Prefect Secret block named 'aura-test-missing'"):
        get_secret(None, "OPENAI_API_KEY", "aura-test-missing", "the OpenAI API key")


def test_key_from_a_prefect_secret_block(vendor_env: pytest.MonkeyPatch) -> None:
    from prefect.blocks.system import Secret

    Secret(value="block-key-value").save("aura-test-openai-key", overwrite=True)
    vendor_env.setenv("AURA_SECRET_BLOCKS", "true")
    get_settings.cache_clear()
    found = get_secret(None, "OPENAI_API_KEY", "aura-test-openai-key", "the OpenAI API key")
    assert found == "block-key-value"


# --- retrieval -------------------------------------------------------------------------------------------


def test_passages_follow_paragraphs_and_cut_long_ones() -> None:
    text = "short one\n\nshort two\n\n" + " ".join(f"w{i}" for i in range(300))
    passages = split_passages(text, size=120, overlap=20)
    assert passages[0] == "short one short two"
    assert all(len(p.split()) <= 120 for p in passages) and len(passages) == 4
    assert terms("The bees' dances!") == ["bee", "dance"]


def test_bm25_prefers_the_passage_about_the_query() -> None:
    docs = [terms("bees dance in the hive"), terms("tax returns are due in april"),
            terms("a bee in the hive")]
    scores = bm25(terms("bee dance"), docs)
    assert scores[0] > scores[2] > scores[1] == 0


def test_selection_keeps_the_budget_and_document_order() -> None:
    docs = [" ".join(["bees dance"] * 50) + "\n\n" + " ".join(["tax"] * 100), "More about how bees dance."]
    chosen = select_passages(docs, "bees dance", budget_words=110)
    assert sum(p.words for p in chosen) <= 110
    assert [(p.document, p.position) for p in chosen] == sorted((p.document, p.position) for p in chosen)
    assert all("tax" not in p.text for p in chosen)
    # nothing matches: the openings of the documents
    assert select_passages(["unrelated words only"], "bees")[0].text == "unrelated words only"
    assert reference_block([], "bees") == "" and select_passages(docs, "bees", budget_words=0) == []


# --- cost ------------------------------------------------------------------------------------------------


def test_prices_fall_back_from_model_to_vendor() -> None:
    prices = {"openai": Price(per_image=1.0), "openai:dall-e-3": Price(per_image=0.08)}
    assert price_for("openai:dall-e-3", prices).per_image == 0.08  # type: ignore[union-attr]
    assert price_for("openai:other", prices).per_image == 1.0  # type: ignore[union-attr]
    assert price_for("mystery:x", prices) is None
    assert price_for("local", None) == Price()  # the default table: local providers are free


def test_estimate_and_actual_cost() -> None:
    prices = {"openai:gpt-4o-mini": Price(input_per_1k=0.001, output_per_1k=0.002),
              "elevenlabs": Price(per_1k_chars=0.3), "diffusers": Price()}
    estimate = estimate_cost(8, 19, llm="openai:gpt-4o-mini", tts="elevenlabs:v", images="diffusers:x",
                             prices=prices)
    llm, tts, images = estimate.lines
    assert tts.quantity == 8 * 19 * 6 and tts.usd == pytest.approx(8 * 19 * 6 * 0.3 / 1000)
    assert images.usd == 0 and llm.usd > 0 and estimate.estimated
    assert estimate.total_usd == pytest.approx(llm.usd + tts.usd)
    assert "about $" in estimate.summary()
    twice = estimate_cost(8, 19, llm="openai:gpt-4o-mini", tts="local", images="local", attempts=2,
                          prices=prices)
    assert twice.lines[0].usd == pytest.approx(2 * llm.usd, abs=1e-5)
    actual = actual_cost(llm="openai:gpt-4o-mini", tts="elevenlabs:v", images="openai:dall-e-3",
                         prompt_tokens=1000, completion_tokens=500, characters=2000, images_made=3,
                         prices=prices)
    assert actual.total_usd == pytest.approx(0.001 + 0.001 + 0.6) and actual.unpriced == ("openai:dall-e-3",)
    assert "no price for openai:dall-e-3" in actual.summary()


def test_budget_refuses_an_expensive_run() -> None:
    estimate = estimate_cost(8, 19, llm="openai:gpt-4o", tts="elevenlabs:v", images="openai:dall-e-3")
    check_budget(estimate, None)
    check_budget(estimate, 100.0)
    with pytest.raises(BudgetExceededError, match="above the budget of \\$0.1000"):
        check_budget(estimate, 0.10)
