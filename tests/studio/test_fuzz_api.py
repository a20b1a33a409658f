"""Fuzz the OpenAPI schema with schemathesis over real HTTP: no 500s, no hangs, answers match the schema.

Generated jobs are real flow runs, but the launcher renders nothing (each job ends at once), so a
burst of fuzzed `generate` requests costs milliseconds, not renders.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from tests.studio.conftest import unserved_deployment  # noqa: E402
from tests.studio.test_api_errors import NoRender  # noqa: E402

pytestmark = pytest.mark.timeout(300)

MAX_EXAMPLES = 30  # per operation and mode
REQUEST_TIMEOUT = 10  # seconds: a fuzzed request that takes longer is a hang
OPERATIONS = [
    "POST /api/videos/generate",
    "GET /api/videos",
    "GET /api/videos/{job_id}/status",
    "GET /api/videos/{job_id}/stream",
    "GET /api/videos/{job_id}/download",
    "POST /api/videos/{job_id}/cancel",
    "GET /healthz",
]


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[dict[str, Any]]:
    from providers.settings import get_settings
    from studio.api import ApiSettings, create_app
    from tests.studio.served import running_server

    unserved_deployment("no-render")  # NoRender's deployment, which nobody serves

    home: Path = tmp_path_factory.mktemp("fuzz-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AURA_HOME", str(home))
        get_settings.cache_clear()
        manager = NoRender(home)
        manager.max_queue = 0
        app = create_app(ApiSettings(rate_per_minute=0, generate_per_minute=0, heartbeat_seconds=0.5),
                         manager=manager)
        with running_server(app) as base:
            # one real job, so that fuzzing reaches past the 404 of random ids
            job = httpx.post(f"{base}/api/videos/generate", json={"brief": "fuzz", "durationSeconds": 10}).json()
            schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
            yield {"base": base, "job": job["jobId"], "home": home, "schema": schema}
    get_settings.cache_clear()


def test_the_schema_lists_every_operation(fuzz: dict[str, Any]) -> None:
    labels = sorted(result.ok().label for result in fuzz["schema"].get_all_operations())
    assert set(OPERATIONS) <= set(labels)  # other modules add their routes (voices, review, batches)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("label", OPERATIONS)
def test_fuzzed_requests_never_fail_or_hang(fuzz: dict[str, Any], label: str, mode: GenerationMode) -> None:
    operation = fuzz["schema"].find_operation_by_label(label)
    slowest = [0.0]

    @given(case=operation.as_strategy(generation_mode=mode), aim_at_job=st.booleans())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any, aim_at_job: bool) -> None:
        # only valid cases are aimed at the real job: replacing a negative case's invalid id with a valid
        # one would make schemathesis report the (now valid) request as wrongly accepted
        if mode is GenerationMode.POSITIVE and aim_at_job and case.path_parameters and "job_id" in case.path_parameters:
            case.path_parameters["job_id"] = fuzz["job"]
        started = time.monotonic()
        response = case.call(timeout=REQUEST_TIMEOUT)
        slowest[0] = max(slowest[0], time.monotonic() - started)
        shown = f"{case.method} {case.formatted_path} -> {response.status_code} {response.text[:300]}"
        assert response.status_code < 500, shown
        if response.status_code >= 400:
            body = response.json()
            assert body["error"] and body["message"], shown
            assert "Traceback" not in response.text, shown
            if response.status_code == 413:
                return  # the body-size guard refuses before the schema is read (a fuzzed script can be large)
            known_only = ("voiceId:", "providers.tts:", "script:", "options.language:")
            if response.status_code == 422 and body["message"].startswith(known_only):
                # a voice (named by voiceId or providers.tts, or with none named, the language) must be one the
                # engine speaks, and a script's narration must still say something once stage directions are
                # removed: beyond what a schema says
                return
        case.validate_response(response)

    try:
        run()
    except Unsatisfiable:
        pytest.skip(f"schemathesis cannot make {mode.value} cases for {label}")
    print(f"{label} ({mode.value}): slowest answer {slowest[0] * 1000:.0f} ms")
