"""Bad input and the API's guards, over real HTTP: clear 4xx JSON, nothing written, no traceback or secret."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from studio.jobs import Job, JobManager
from tests.studio.conftest import unserved_deployment

pytestmark = pytest.mark.timeout(300)

GOOD: dict[str, Any] = {"brief": "How honeybees communicate", "durationSeconds": 10,
                        "options": {"resolution": "360p", "fps": 24}}
KEY = "test-key-0123456789"


class NoRender(JobManager):
    """Creates real flow runs of a deployment nobody serves, renders nothing: each job ends at once, cancelled
    (or, with `end=False`, stays pending), so that the session's Prefect database holds no runs that look
    unfinished to other tests."""

    def __init__(self, home: Path, end: bool = True) -> None:
        super().__init__(home, "make-video/no-render", pickup_seconds=None, events_grace_seconds=0)
        self.end = end

    async def submit(self, *args: Any, **kwargs: Any) -> Job:
        from prefect.states import Cancelled

        job = await super().submit(*args, **kwargs)
        if self.end:
            await self.client.set_flow_run_state(job.id, Cancelled(message="not rendered in this test"), force=True)
        return job


@contextmanager
def serve(home: Path, end: bool = True, **overrides: Any) -> Iterator[httpx.Client]:
    from providers.settings import get_settings
    from studio.api import ApiSettings, create_app
    from tests.studio.served import running_server

    values = {"heartbeat_seconds": 0.5, "rate_per_minute": 0, "generate_per_minute": 0, **overrides}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AURA_HOME", str(home))
        get_settings.cache_clear()
        app = create_app(ApiSettings(**values), manager=NoRender(home, end))
        try:
            with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
                http.app = app  # type: ignore[attr-defined]
                yield http
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="module", autouse=True)
def no_render_deployment(prefect_harness: None) -> None:
    """The deployment NoRender sends jobs to: it exists, and nobody serves it."""
    unserved_deployment("no-render")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("errors-home")


@pytest.fixture(scope="module")
def api(home: Path) -> Iterator[httpx.Client]:
    with serve(home, max_duration=60) as http:
        yield http


def written(home: Path) -> list[str]:
    """Every file under the API's folders."""
    root = home / "api"
    return sorted(str(p.relative_to(home)) for p in root.rglob("*")) if root.exists() else []


def api_runs() -> int:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with get_client(sync_client=True) as client:
        return len(client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["aura-api"]))))


def assert_clean_error(response: httpx.Response, status: int, *needles: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error", "message"} and body["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    for needle in needles:
        assert needle in body["message"], body
    return body


BAD_BODIES = [
    pytest.param(b'{"brief": "bees", ', 400, ["not valid JSON"], id="malformed-json"),
    pytest.param(b"not json at all", 400, ["not valid JSON"], id="not-json"),
    pytest.param(json.dumps({"durationMinutes": 1}).encode(), 422, ["brief", "Field required"], id="missing-brief"),
    pytest.param(json.dumps({"brief": "   "}).encode(), 422, ["brief"], id="blank-brief"),
    pytest.param(json.dumps({"brief": "x" * 501}).encode(), 422, ["brief", "500"], id="long-brief"),
    pytest.param(json.dumps({**GOOD, "options": {"aspect": "4:3"}}).encode(), 422, ["options.aspect", "16:9"],
                 id="unknown-aspect"),
    pytest.param(json.dumps({**GOOD, "options": {"fps": 1000}}).encode(), 422, ["options.fps"], id="bad-fps"),
    pytest.param(json.dumps({**GOOD, "colour": "red"}).encode(), 422, ["colour", "Extra inputs"], id="unknown-field"),
    pytest.param(json.dumps({**GOOD, "durationMinutes": 1}).encode(), 422, ["not both"], id="two-durations"),
    pytest.param(json.dumps({**GOOD, "durationSeconds": 5}).encode(), 422, ["durationSeconds"], id="too-short"),
    pytest.param(json.dumps({**GOOD, "durationSeconds": 600}).encode(), 422, ["durationSeconds", "at most 60 seconds"],
                 id="over-server-max"),
    pytest.param(json.dumps({**GOOD, "providers": {"llm": "openai:gpt-4o"}}).encode(), 422,
                 ["providers.llm", "not allowed"], id="provider-not-allowed"),
    pytest.param(json.dumps({**GOOD, "providers": {"images": "diffusers:/etc"}}).encode(), 422,
                 ["providers.images"], id="provider-path"),
    pytest.param(json.dumps({**GOOD, "voiceId": "../../x y"}).encode(), 422, ["voiceId"], id="bad-voice"),
    pytest.param(json.dumps(["brief"]).encode(), 422, [], id="json-array"),
]


@pytest.mark.parametrize(("body", "status", "needles"), BAD_BODIES)
def test_bad_generate_requests_are_refused_and_write_nothing(
    api: httpx.Client, home: Path, body: bytes, status: int, needles: list[str]
) -> None:
    runs = api_runs()
    files = written(home)
    answer = api.post("/api/videos/generate", content=body, headers={"Content-Type": "application/json"})
    assert_clean_error(answer, status, *needles)
    assert written(home) == files
    assert api_runs() == runs


def test_huge_bodies_are_refused_and_the_client_reads_the_answer(api: httpx.Client, home: Path) -> None:
    files = written(home)
    big = json.dumps({**GOOD, "style": "x" * 2_000_000}).encode()
    body = assert_clean_error(api.post("/api/videos/generate", content=big,
                                       headers={"Content-Type": "application/json"}), 413)
    assert body["error"] == "body_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts streamed bytes
        yield b'{"brief": "bees", "style": "'
        for _ in range(100):
            yield b"y" * 10_000
        yield b'"}'

    assert_clean_error(api.post("/api/videos/generate", content=chunks(),
                                headers={"Content-Type": "application/json"}), 413)
    assert written(home) == files


@pytest.mark.parametrize("expect", [None, "100-continue"])
def test_an_announced_huge_body_is_refused_before_it_is_sent(api: httpx.Client, expect: str | None) -> None:
    url = urlsplit(str(api.base_url))
    with socket.create_connection((url.hostname, url.port), timeout=10) as raw:
        head = (f"POST /api/videos/generate HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {1 << 30}\r\n" + (f"Expect: {expect}\r\n" if expect else "") + "\r\n")
        raw.sendall(head.encode())  # and not one byte of the announced gigabyte
        received = b""
        while chunk := raw.recv(65536):  # the server closes the connection after its answer
            received += chunk
        answer = received.decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "100 Continue" not in answer and "body_too_large" in answer


TRAVERSALS = ["..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%252F..%252Fetc%252Fpasswd",
              "..", "etc%2Fpasswd", "0b8e2c1e-5a8f-4c5e-9d43-6f1d2a7b9c1", "0b8e2c1e5a8f4c5e9d436f1d2a7b9c10",
              "0b8e2c1e-5a8f-4c5e-9d43-6f1d2a7b9c10%00", "%00", "C:%5Cwindows"]


@pytest.mark.parametrize("job_id", TRAVERSALS)
@pytest.mark.parametrize("action", ["status", "stream", "download", "cancel"])
def test_job_ids_other_than_uuids_are_refused(api: httpx.Client, home: Path, job_id: str, action: str) -> None:
    files = written(home)
    url = httpx.URL(f"{str(api.base_url).rstrip('/')}/api/videos/{job_id}/{action}")
    answer = api.request("POST" if action == "cancel" else "GET", url)
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"].startswith("application/json")
    assert "root:" not in answer.text and "Traceback" not in answer.text
    assert answer.json()["message"]
    assert written(home) == files


def test_raw_dot_segments_never_reach_the_disk(api: httpx.Client) -> None:
    """Send `..` segments unnormalised, as an attacker's client would."""
    parts = urlsplit(str(api.base_url))
    for path in ("/api/videos/../../../../etc/passwd/download", "/api/videos/..%2f..%2fetc%2fpasswd/download",
                 "/static/../../../../etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd"):
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        head = reply.split(b"\r\n", 1)[0]
        assert b" 404 " in head or b" 400 " in head, (path, head)
        assert b"root:" not in reply


def test_unknown_job_and_bad_last_event_id(api: httpx.Client) -> None:
    missing = "0b8e2c1e-5a8f-4c5e-9d43-6f1d2a7b9c10"
    assert_clean_error(api.get(f"/api/videos/{missing}/status"), 404, missing)
    assert_clean_error(api.get(f"/api/videos/{missing}/download"), 404)
    assert_clean_error(api.get(f"/api/videos/{missing}/stream"), 404)
    assert_clean_error(api.post(f"/api/videos/{missing}/cancel"), 404)
    job_id = api.post("/api/videos/generate", json=GOOD).json()["jobId"]
    assert_clean_error(api.get(f"/api/videos/{job_id}/stream", headers={"Last-Event-ID": "abc"}), 422,
                       "Last-Event-ID")
    assert_clean_error(api.get("/api/nothing-here"), 404, "no such endpoint")
    assert_clean_error(api.delete("/api/videos"), 405)
    assert_clean_error(api.get("/api/videos?limit=100000"), 422, "limit")


def test_a_crash_inside_is_a_500_without_traceback_or_secret(api: httpx.Client) -> None:
    manager = api.app.state.manager  # type: ignore[attr-defined]

    async def broken(limit: int) -> list[Job]:
        raise RuntimeError("password=hunter2 at /srv/secret/path")

    original = manager.recent
    manager.recent = broken
    try:
        body = assert_clean_error(api.get("/api/videos"), 500, "unexpected server error")
    finally:
        manager.recent = original
    assert "hunter2" not in json.dumps(body) and "/srv/secret" not in json.dumps(body)


def test_api_keys_and_job_link_tokens(tmp_path: Path) -> None:
    with serve(tmp_path, end=False, keys=f"{KEY},second-key-abcdef") as http:
        assert_clean_error(http.post("/api/videos/generate", json=GOOD), 401, "X-API-Key")
        assert_clean_error(http.get("/api/videos", headers={"X-API-Key": "wrong"}), 401)
        assert written(tmp_path) == []
        assert http.get("/healthz").json()["authRequired"] is True
        assert http.get("/").status_code == 200  # the page loads; it asks for the key

        created = http.post("/api/videos/generate", json=GOOD, headers={"X-API-Key": KEY})
        assert created.status_code == 202
        job_id = created.json()["jobId"]
        stream_url = created.json()["streamUrl"]
        assert "?token=" in stream_url and KEY not in stream_url
        status = http.get(f"/api/videos/{job_id}/status", headers={"X-API-Key": "second-key-abcdef"})
        assert status.status_code == 200
        assert http.get("/api/videos", headers={"X-API-Key": KEY}).status_code == 200

        token = stream_url.split("token=")[1]
        with http.stream("GET", stream_url) as opened:  # the token alone opens this job's stream
            assert opened.status_code == 200
        assert http.get(f"/api/videos/{job_id}/download?token={token}").status_code == 409  # allowed, not ready
        assert_clean_error(http.get(f"/api/videos/{job_id}/stream?token={'0' * 32}"), 401)
        other = http.post("/api/videos/generate", json=GOOD, headers={"X-API-Key": KEY}).json()["jobId"]
        assert_clean_error(http.get(f"/api/videos/{other}/stream?token={token}"), 401)  # not for another job
        assert_clean_error(http.get(f"/api/videos/{job_id}/status?token={token}"), 401)  # and no other endpoint
        for pending in (job_id, other):  # leave no unfinished runs behind in the session's Prefect database
            assert http.post(f"/api/videos/{pending}/cancel", headers={"X-API-Key": KEY}).status_code == 200


def test_rate_limits_per_client(tmp_path: Path) -> None:
    # refills of one token a minute: on a loaded machine the requests below may take seconds each, and a faster
    # refill would hand out new tokens between them
    with serve(tmp_path, rate_per_minute=1, rate_burst=5, generate_per_minute=1, generate_burst=2) as http:
        assert [http.post("/api/videos/generate", json=GOOD).status_code for _ in range(2)] == [202, 202]
        limited = http.post("/api/videos/generate", json=GOOD)
        body = assert_clean_error(limited, 429, "too many new jobs")
        assert body["error"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
        codes = [http.get("/api/videos").status_code for _ in range(5)]
        assert codes.count(429) >= 2 and codes[0] == 200
        assert http.get("/healthz").status_code == 200  # outside /api: not limited


def test_cors_is_off_by_default_and_configurable(api: httpx.Client, tmp_path: Path) -> None:
    answer = api.get("/api/videos", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in answer.headers
    with serve(tmp_path, cors_origins="https://studio.example") as http:
        allowed = http.get("/api/videos", headers={"Origin": "https://studio.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://studio.example"
        other = http.get("/api/videos", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = http.options("/api/videos/generate", headers={
            "Origin": "https://studio.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key"})
        assert preflight.status_code == 200
        assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()


def test_cancel_of_a_queued_job_never_starts_it(tmp_path: Path) -> None:
    with serve(tmp_path, end=False) as http:  # nobody serves the deployment: jobs wait as Scheduled
        job_id = http.post("/api/videos/generate", json=GOOD).json()["jobId"]
        assert http.get(f"/api/videos/{job_id}/status").json()["status"] == "pending"
        answer = http.post(f"/api/videos/{job_id}/cancel")
        assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
        with http.stream("GET", f"/api/videos/{job_id}/stream") as response:
            events = [line for line in response.iter_lines() if line.startswith("event:")]
        assert events == ["event: error"]
        assert_clean_error(http.post(f"/api/videos/{job_id}/cancel"), 409, "already ended")
    from prefect import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(job_id).state
    assert state is not None and state.type.value == "CANCELLED"


def test_rotating_forwarded_for_does_not_dodge_rate_limits(tmp_path: Path) -> None:
    """X-Forwarded-For from a peer that is not a configured proxy is ignored: the peer's address is the client."""
    with serve(tmp_path, rate_per_minute=60, rate_burst=3) as http:
        answers = [http.get("/api/videos", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(8)]
    assert answers[:3] == [200, 200, 200] and 429 in answers


def test_forwarded_for_from_a_configured_proxy_names_the_client(tmp_path: Path) -> None:
    with serve(tmp_path, rate_per_minute=60, rate_burst=3, trusted_proxies="127.0.0.1") as http:
        answers = [http.get("/api/videos", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(8)]
    assert answers == [200] * 8  # one bucket per client behind the proxy


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_serving_beyond_loopback_without_a_key_is_refused(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.server import run_server

    monkeypatch.delenv("AURA_API_KEYS", raising=False)
    with pytest.raises(SystemExit) as refused:
        run_server(host=host, port=0)
    message = str(refused.value)
    assert "AURA_API_KEYS" in message and "--allow-open" in message and "\n" not in message
