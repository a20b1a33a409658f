"""A correlation id in every log line of a run: `[<id>] message`, and `record.correlation_id`.

A run's correlation id is the value of its `correlation-id:<value>` tag when it has one (a client
that starts runs, such as the REST API, tags them with its own request id), else the first eight
characters of the flow run id, which also end the run's name. `bind_correlation_id` registers a
run's id and puts one filter on Prefect's log handlers: the console and the API handler that feeds
the UI. The filter stamps every record that belongs to a registered run: Prefect's run loggers carry
the flow run id; any other logger is matched through the run context of the thread that logs.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable

from tasks.runtime.events import current_flow_run_id

__all__ = [
    "CORRELATION_TAG", "CorrelationFilter", "bind_correlation_id", "correlation_id_for", "correlation_of",
]

CORRELATION_TAG = "correlation-id:"
_HANDLER_LOGGERS = ("", "prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.extra")
_MAX_RUNS = 1000  # a long-lived process (the API) keeps the ids of its latest runs only

_ids: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()


def correlation_id_for(flow_run_id: str, tags: Iterable[str] = ()) -> str:
    """The correlation id of a run: its `correlation-id:` tag's value, else its short run id."""
    for tag in tags:
        if tag.startswith(CORRELATION_TAG) and tag[len(CORRELATION_TAG):].strip():
            return tag[len(CORRELATION_TAG):].strip()
    return flow_run_id.replace("-", "")[:8]


def correlation_of(flow_run_id: str | None) -> str | None:
    """The correlation id bound to `flow_run_id`, if any."""
    if flow_run_id is None:
        return None
    with _lock:
        return _ids.get(flow_run_id)


class CorrelationFilter(logging.Filter):
    """Prefixes the records of registered runs with their correlation id (once per record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is not None:
            return True
        run = getattr(record, "flow_run_id", None)
        cid = correlation_of(str(run) if run is not None else current_flow_run_id())
        if cid is not None:
            record.correlation_id = cid
            record.msg = f"[{cid}] {record.msg}"
        return True


_FILTER = CorrelationFilter()


def _install() -> None:
    for name in _HANDLER_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, CorrelationFilter) for f in handler.filters):
                handler.addFilter(_FILTER)


def bind_correlation_id(flow_run_id: str, tags: Iterable[str] = ()) -> str:
    """Stamp the log lines of run `flow_run_id` from now on; return its correlation id."""
    cid = correlation_id_for(flow_run_id, tags)
    with _lock:
        _ids[flow_run_id] = cid
        _ids.move_to_end(flow_run_id)
        while len(_ids) > _MAX_RUNS:
            _ids.popitem(last=False)
    _install()
    return cid
