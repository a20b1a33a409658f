"""LLM providers for OpenAI-compatible servers: `ollama:<model>` and `openai-compat:<model>`.

Both are the `openai` writer pointed elsewhere: a base URL, an optional key and a generous timeout
for local models. Structured outputs are tried first and JSON-in-text is the fallback.
"""

from __future__ import annotations

from typing import Any

from providers.errors import ConfigurationError
from providers.llm.openai import OpenAIWriter
from providers.settings import get_settings, require

__all__ = ["CompatibleWriter", "OllamaWriter"]


class OllamaWriter(OpenAIWriter):
    """LLM provider `ollama:<model>`: Ollama's /v1 endpoint (AURA_OLLAMA_BASE_URL), no key."""

    def __init__(self, model: str = "", **options: Any) -> None:
        settings = get_settings()
        options.setdefault("base_url", settings.ollama_base_url)
        options.setdefault("api_key", "ollama")
        options.setdefault("timeout", settings.local_llm_timeout)
        super().__init__(model=model or "llama3.1", vendor="Ollama", key_variable="", name="ollama",
                         **options)


class CompatibleWriter(OpenAIWriter):
    """LLM provider `openai-compat:<model>`: the server at AURA_LLM_BASE_URL (vLLM, LM Studio, ...)."""

    def __init__(self, model: str = "", **options: Any) -> None:
        settings = get_settings()
        options.setdefault("base_url", require(settings.llm_base_url, "AURA_LLM_BASE_URL",
                                               "the OpenAI-compatible server's base URL"))
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
        options.setdefault("api_key", key or "not-needed")
        options.setdefault("timeout", settings.local_llm_timeout)
        if not model:
            raise ConfigurationError("openai-compat needs a model name: use openai-compat:<model>")
        super().__init__(model=model, vendor="the OpenAI-compatible server", key_variable="AURA_LLM_API_KEY",
                         name="openai-compat", **options)
