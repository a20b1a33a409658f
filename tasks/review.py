"""Review in the run: after the script, the flow waits for a person to approve, edit or reject it.

The wait is Prefect's own: a deployment run is *suspended* (its process exits, no worker slot is
held; on resume it starts again from the top and its cached tasks bring it back to this point), any
other run is *paused* in its process. Either way the run shows the script as a form (`ScriptReview`)
in the Prefect UI, with the cost of the rest of the run beside it, and anything that can resume a
flow run with input (the UI, `aura review`, the REST API) answers it. Nothing paid runs before the
answer: voice, images and rendering all come after this point.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from pydantic import BaseModel, ConfigDict, Field

from tasks.pricing import Cost, actual_cost
from tasks.schemas import Providers, Scene, Script
from tasks.script import given_script

__all__ = ["REVIEW_KEY", "ReviewOutcome", "ScriptReview", "remaining_cost", "review_markdown", "review_script"]

REVIEW_KEY = "aura-review"  # a fixed pause key: the restarted run finds its answer instead of waiting again
POLL_SECONDS = 2  # how often a paused (in-process) run looks for the answer


class ScriptReview(RunInput):
    """Approve the script (as it is or edited) or reject it with a reason."""

    decision: Literal["approve", "reject"] = Field(
        "approve", title="Decision", description="approve: render this script (with your edits); reject: stop here.")
    title: str = Field(min_length=1, max_length=200, title="Title")
    scenes: list[Scene] = Field(min_length=1, title="Scenes",
                                description="Edit any scene's narration, title or visual prompt.")
    reason: str = Field("", max_length=1000, title="Reason", description="Why the script is rejected (optional).")


class ReviewOutcome(BaseModel):
    """What the person decided: the script to render, or why the run stops."""

    model_config = ConfigDict(frozen=True)

    decision: Literal["approve", "reject", "timeout"]
    script: Script
    reason: str = ""
    edited: bool = False

    @property
    def message(self) -> str:
        """The run's closing message when it does not go on."""
        if self.decision == "reject":
            return f"the script was rejected in review: {self.reason}"
        return f"the script was not reviewed in time ({self.reason}); nothing was rendered"


def remaining_cost(script: Script, providers: Providers) -> Cost:
    """What the rest of the run costs once this script is approved: its narration spoken, one image per scene."""
    cost = actual_cost(llm="local", tts=providers.tts, images=providers.images, prompt_tokens=0,
                       completion_tokens=0, characters=sum(len(s.narration) for s in script.scenes),
                       images_made=len(script.scenes))
    return Cost(estimated=True, lines=tuple(line for line in cost.lines if line.capability != "llm"))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def review_markdown(script: Script, cost: Cost, timeout: float) -> str:
    """The text shown above the form: the script as a table and what approving it will cost."""
    rows = "\n".join(f"| {i} | {_cell(s.title)} | {_cell(s.narration)} | {_cell(s.visual_prompt)} |"
                     for i, s in enumerate(script.scenes, 1))
    hours = timeout / 3600
    wait = f"{hours:.0f} h" if hours >= 1 else f"{timeout:.0f} s"
    return (
        f"## Review the script: {_cell(script.title)}\n\n"
        f"{len(script.scenes)} scenes, {script.word_count} words. Approving renders it; "
        f"the rest of the run costs **{cost.summary()}**.\n\n"
        "| # | Scene | Narration | Visual |\n|---|---|---|---|\n"
        f"{rows}\n\n"
        f"Edit the fields below and resume with `decision` approve, or choose reject and give a reason. "
        f"Without an answer within {wait} the run ends."
    )


def review_script(script: Script, providers: Providers, timeout: float) -> ReviewOutcome:
    """Wait (suspended for a deployment run, paused otherwise) for a person's answer about `script`."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("a script review waits inside a flow run")
    form = ScriptReview.with_initial_data(
        description=review_markdown(script, remaining_cost(script, providers), timeout),
        decision="approve", title=script.title, scenes=list(script.scenes), reason="",
    )
    try:
        if context.flow_run.deployment_id is not None:
            # the process exits here and the run is rescheduled on resume: no worker slot waits with it
            answer = suspend_flow_run(wait_for_input=form, timeout=round(timeout), key=REVIEW_KEY)
        else:
            answer = pause_flow_run(wait_for_input=form, timeout=round(timeout), poll_interval=POLL_SECONDS,
                                    key=REVIEW_KEY)
    except FlowPauseTimeout:
        return ReviewOutcome(decision="timeout", script=script, reason=f"no review within {timeout:.0f} s")
    if answer.decision == "reject":
        return ReviewOutcome(decision="reject", script=script, reason=answer.reason.strip() or "rejected in review")
    edited = given_script({"title": answer.title, "scenes": [s.model_dump(mode="json") for s in answer.scenes]})
    changed = (edited.title, edited.scenes) != (script.title, script.scenes)
    kept = {"prompt_tokens", "completion_tokens", "provider", "fallback_reason"}
    return ReviewOutcome(decision="approve", edited=changed,
                         script=edited.model_copy(update=script.model_dump(include=kept)))


def review_answer(flow_run_id: UUID | str, decision: str, script: Script | None = None, reason: str = "") -> None:
    """Resume the run waiting in review with a person's answer (from another process than the run's)."""
    from prefect.flow_runs import resume_flow_run

    body: dict[str, object] = {"decision": decision, "reason": reason}
    if script is not None:
        body.update({"title": script.title, "scenes": [s.model_dump(mode="json") for s in script.scenes]})
    resume_flow_run(UUID(str(flow_run_id)), run_input=body)


class PendingReview(BaseModel):
    """A run waiting in review, as a front door shows it: the text above the form and the script."""

    model_config = ConfigDict(frozen=True)

    flow_run_id: str
    state: str
    description: str
    script: Script


def pending_review(flow_run_id: UUID | str) -> PendingReview | None:
    """The review a run is waiting for (read from Prefect, as the UI reads it), or None when it waits for none."""
    import json

    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.input.run_input import keyset_from_paused_state

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(str(flow_run_id)))
        if run.state is None or not run.state.is_paused() or run.state.state_details.run_input_keyset is None:
            return None
        keyset = keyset_from_paused_state(run.state)
        try:
            schema = json.loads(client.read_flow_run_input(run.id, keyset["schema"]))
            description = json.loads(client.read_flow_run_input(run.id, keyset["description"]))
        except PrefectHTTPStatusError as exc:
            # Prefect records the pause before it stores the form: until then the run waits for nothing yet
            if exc.response.status_code == 404:
                return None
            raise
    defaults = {name: field.get("default") for name, field in schema.get("properties", {}).items()}
    script = Script.model_validate({"title": defaults.get("title"), "scenes": defaults.get("scenes")})
    return PendingReview(flow_run_id=str(run.id), state=run.state.name or "Paused", description=description,
                         script=script)
