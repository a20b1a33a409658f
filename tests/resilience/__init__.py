"""Fault injection for issue 4 (resilience): each fault below is caused for real and its outcome checked.

| fault | where |
|---|---|
| HTTP 500 twice, then success | test_http_faults.py (500) |
| HTTP 401 | test_http_faults.py (401, task level), test_cli_faults.py (a whole `aura generate`) |
| HTTP 429 with Retry-After / Retry-After-Ms | test_http_faults.py (429) |
| a server that never answers | test_hanging_server.py |
| garbage bodies: script text, audio, image, HTTP body | test_http_faults.py (garbage) |
| a burst of failures: the breaker opens, fails fast, closes | test_breaker_burst.py |
| ffmpeg killed mid-render, or stopped for a cancel | test_ffmpeg_faults.py |
| the output disk full | test_disk_full.py |
| SIGKILL of the whole run, then resume | tests/flows/test_resume.py (not repeated here) |
| Ctrl-C in `aura generate` during composition | test_cli_faults.py (ctrl_c) |
| `prefect flow-run cancel` of a deployment run | test_deployment_cancel.py |

The fake vendors (tests/fakes) take scripted faults: `fake.script(500, 500)`, `Fault(429, retry_after="3")`,
"hang", "garbage", "drop"; they record every request's arrival time, so waits and fail-fast are measured.
"""
