"""The OpenAI script writer through the real `openai` SDK against a local fake server."""

from __future__ import annotations

import json

import pytest

from providers.errors import (
    AuthenticationError,
    ConfigurationError,
    ContentRejectedError,
    InvalidOutputError,
    TransientError,
)
from providers.llm.openai import extract_json
from providers.registry import resolve
from providers.settings import get_settings
from tasks.schemas import Brief
from tasks.script import build_request, parse_script
from tests.fakes.openai_server import FakeOpenAI, make_script

BRIEF = Brief(topic="How honeybees communicate", duration=20)


def test_structured_output_success_with_usage(openai_server: FakeOpenAI) -> None:
    response = resolve("llm", "openai:gpt-4o-mini").write_script(build_request(BRIEF))
    script = parse_script(response.data)
    assert len(script.scenes) == build_request(BRIEF).scene_count
    assert response.provider == "openai:gpt-4o-mini"
    assert response.prompt_tokens > 0 and response.completion_tokens == 321
    [sent] = openai_server.requests
    assert sent.path == "/v1/chat/completions" and sent.body["model"] == "gpt-4o-mini"
    fmt = sent.body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert "default" not in json.dumps(fmt["json_schema"]["schema"])
    system = sent.body["messages"][0]["content"]
    assert "no stage directions" in system and "visual prompt" in system


def test_missing_key_names_the_variable(vendor_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        resolve("llm", "openai:gpt-4o-mini")


def test_aura_prefixed_variables_work_too(openai_server: FakeOpenAI, vendor_env: pytest.MonkeyPatch) -> None:
    vendor_env.delenv("OPENAI_API_KEY")
    vendor_env.delenv("OPENAI_BASE_URL")
    vendor_env.setenv("AURA_OPENAI_API_KEY", openai_server.key)
    vendor_env.setenv("AURA_OPENAI_BASE_URL", openai_server.url)
    get_settings.cache_clear()
    assert resolve("llm", "openai:m").write_script(build_request(BRIEF)).data["scenes"]


def test_wrong_key_is_an_authentication_error_without_the_key(openai_server: FakeOpenAI,
                                                                vendor_env: pytest.MonkeyPatch) -> None:
    vendor_env.setenv("OPENAI_API_KEY", "sk-wrong-secret-value-123456")
    get_settings.cache_clear()
    with pytest.raises(AuthenticationError) as info:
        resolve("llm", "openai:m").write_script(build_request(BRIEF))
    message = str(info.value)
    assert "OPENAI_API_KEY" in message and "401" in message
    assert "sk-wrong" not in message and "sk-live" not in message
    # the SDK's own exception quotes the key: it is not chained, so no traceback shows it
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_rate_limit_is_transient_with_retry_after(openai_server: FakeOpenAI) -> None:
    openai_server.mode = "429"
    with pytest.raises(TransientError) as info:
        resolve("llm", "openai:m").write_script(build_request(BRIEF))
    assert info.value.retry_after == 7 and "429" in str(info.value)


def test_server_error_is_transient(openai_server: FakeOpenAI) -> None:
    openai_server.mode = "500"
    with pytest.raises(TransientError, match="500"):
        resolve("llm", "openai:m").write_script(build_request(BRIEF))


def test_malformed_body_is_invalid_output(openai_server: FakeOpenAI) -> None:
    openai_server.mode = "malformed"
    with pytest.raises(InvalidOutputError):
        resolve("llm", "openai:m").write_script(build_request(BRIEF))


def test_slow_local_server_times_out_naming_the_setting(openai_server: FakeOpenAI,
                                                       vendor_env: pytest.MonkeyPatch) -> None:
    vendor_env.setenv("AURA_LOCAL_LLM_TIMEOUT", "0.3")  # OPENAI_BASE_URL is not api.openai.com
    get_settings.cache_clear()
    openai_server.mode, openai_server.slow_seconds = "slow", 1.5
    # not transient: one's own server is still busy with the request, a retry would queue behind it
    with pytest.raises(ConfigurationError, match=r"within 0\.3 s \(timeout\): raise AURA_LOCAL_LLM_TIMEOUT"):
        resolve("llm", "openai:m").write_script(build_request(BRIEF))


def test_hosted_openai_has_a_short_timeout_local_servers_a_long_one(vendor_env: pytest.MonkeyPatch) -> None:
    vendor_env.setenv("OPENAI_API_KEY", "k")
    vendor_env.setenv("AURA_LLM_TIMEOUT", "11")
    vendor_env.setenv("AURA_LOCAL_LLM_TIMEOUT", "999")
    get_settings.cache_clear()
    assert resolve("llm", "openai:gpt-4o-mini").client.timeout == 11
    assert resolve("llm", "ollama:llama3.1").client.timeout == 999


def test_refusal_is_content_rejected(openai_server: FakeOpenAI) -> None:
    openai_server.mode = "refusal"
    with pytest.raises(ContentRejectedError, match="refused"):
        resolve("llm", "openai:m").write_script(build_request(BRIEF))


def test_server_without_structured_outputs_falls_back_to_json_in_text(openai_server: FakeOpenAI,
                                                                      vendor_env: pytest.MonkeyPatch) -> None:
    vendor_env.setenv("AURA_LLM_BASE_URL", openai_server.url)
    vendor_env.setenv("AURA_LLM_API_KEY", openai_server.key)
    get_settings.cache_clear()
    openai_server.mode = "no_structured"
    writer = resolve("llm", "openai-compat:qwen2.5")
    response = writer.write_script(build_request(BRIEF))
    assert parse_script(response.data).scenes and response.provider == "openai-compat:qwen2.5"
    first, second = openai_server.requests
    assert "response_format" in first.body and "response_format" not in second.body
    assert "JSON schema" in second.body["messages"][0]["content"]
    # remembered for this server: the next script goes straight to text mode
    writer.write_script(build_request(BRIEF))
    assert "response_format" not in openai_server.requests[-1].body


def test_unparsable_text_gets_one_repair_attempt(openai_server: FakeOpenAI,
                                                 vendor_env: pytest.MonkeyPatch) -> None:
    vendor_env.setenv("AURA_LLM_STRUCTURED", "false")
    get_settings.cache_clear()
    openai_server.replies.extend(["Here you go: {title: broken", make_script(2, 20)])
    response = resolve("llm", "openai:m").write_script(build_request(BRIEF))
    assert response.data["title"] == "How bees talk"
    repair = openai_server.requests[-1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": "Here you go: {title: broken"}
    assert "not a valid JSON object" in repair[-1]["content"]
    assert response.completion_tokens == 2 * 321


def test_repair_that_fails_again_is_invalid_output(openai_server: FakeOpenAI,
                                                   vendor_env: pytest.MonkeyPatch) -> None:
    vendor_env.setenv("AURA_LLM_STRUCTURED", "false")
    get_settings.cache_clear()
    openai_server.replies.extend(["no json here", "still none"])
    with pytest.raises(InvalidOutputError, match="even after a repair"):
        resolve("llm", "openai:m").write_script(build_request(BRIEF))
    assert len(openai_server.requests) == 2


def test_ollama_spec_needs_no_key(openai_server: FakeOpenAI, vendor_env: pytest.MonkeyPatch) -> None:
    vendor_env.delenv("OPENAI_API_KEY")
    vendor_env.setenv("AURA_OLLAMA_BASE_URL", openai_server.url)
    get_settings.cache_clear()
    openai_server.key = "ollama"  # Ollama ignores the key; the SDK sends a placeholder
    try:
        response = resolve("llm", "ollama:llama3.1").write_script(build_request(BRIEF))
    finally:
        openai_server.key = "test-key"
    assert response.provider == "ollama:llama3.1" and response.data["scenes"]


def test_openai_compat_without_base_url_names_the_variable(vendor_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="AURA_LLM_BASE_URL"):
        resolve("llm", "openai-compat:qwen2.5")


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ('{"title": "A"}', "A"),
        ('Sure!\n```json\n{"title": "B"}\n```\nBye', "B"),
        ('The script: {"title": "C", "x": {"y": 1}} -- hope it helps', "C"),
    ],
)
def test_extract_json(text: str, title: str) -> None:
    assert extract_json(text)["title"] == title


def test_extract_json_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json("nothing")
    with pytest.raises(ValueError):
        extract_json("[1, 2]")
