"""The Aura flow: brief → script → narration and images per scene → timeline → segments → video."""

# no `from __future__ import annotations`: Prefect builds the parameter model from the signature,
# and the decorator below wraps the function, so the annotations must be real objects, not strings

from prefect import flow, unmapped
from prefect.futures import wait
from prefect.states import Cancelled, State
from prefect.task_runners import ThreadPoolTaskRunner

from providers.settings import get_settings
from tasks.brief import validate_brief
from tasks.compose import build_timeline, finish_video, mix_soundtrack, render_segment
from tasks.cost import estimate_run, spent
from tasks.naming import default_output, job_key_for, run_folder, slug
from tasks.review import review_script
from tasks.runtime.artifacts import RunTracker
from tasks.runtime.cancellation import stops_children_on_interrupt
from tasks.runtime.cleanup import sweep_leftovers
from tasks.runtime.fallback import fallback_summary
from tasks.runtime.joblock import release_job_hook
from tasks.runtime.metrics import StageMeter
from tasks.runtime.profiles import profiled
from tasks.schemas import Brief, Providers, RenderSpec, Script, Video
from tasks.script import write_script
from tasks.timeline import image_digests, segment_plan
from tasks.visuals import scene_visuals, write_credits
from tasks.voice import synthesize_narration, voice_settings


def _run_name() -> str:
    from prefect.runtime import flow_run

    brief = flow_run.parameters.get("brief") or {}
    topic = brief.get("topic", "video") if isinstance(brief, dict) else getattr(brief, "topic", "video")
    return f"{slug(topic, 32)}-{flow_run.id[:8]}"


@flow(
    name="make-video",
    flow_run_name=_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=get_settings().max_workers),  # type: ignore[arg-type]
    persist_result=True,
    validate_parameters=True,
    # the job lock taken by sweep_leftovers goes with the run, however it ends
    on_completion=[release_job_hook], on_failure=[release_job_hook], on_cancellation=[release_job_hook],
    on_crashed=[release_job_hook],
)
@stops_children_on_interrupt  # a cancel or Ctrl-C kills ffmpeg at once instead of waiting for it
def make_video(
    brief: Brief,
    render: RenderSpec = RenderSpec(),  # noqa: B008 - frozen model, safe as a default
    providers: Providers = Providers(),  # noqa: B008
    out: str = "",
    budget: float | None = None,
    script: Script | None = None,
    review: bool = False,
) -> Video | State:
    """Turn a brief into a narrated, captioned MP4 and return what was made.

    Args:
        brief: What the video is about and for whom; only the topic is required.
        render: How the video is encoded: resolution, frame rate, quality, captions, motion.
        providers: Which script writer, voice, image generator and renderer to use; `local` needs no key.
        out: Where the MP4 goes on the worker; empty puts it under AURA_HOME/videos.
        budget: Most USD this video may cost; a run estimated above it does not start (empty: AURA_BUDGET).
        script: A script to render instead of writing one (as `aura script` writes it); empty: the writer's.
        review: Wait after the script for a person to approve, edit or reject it before anything is spent.
    """
    tracker = RunTracker.start()  # progress artifact, stage events and log correlation id for this run
    settings = get_settings()
    job = job_key_for(brief, render, providers)
    run_dir = str(run_folder(settings.runs_dir, job))
    out = out or str(default_output(settings.home.expanduser() / "videos", brief.topic, job))
    meter = StageMeter()
    estimate = estimate_run(brief, providers, budget)  # before any paid call: refuse what is over budget
    sweep_leftovers(run_dir, out)

    meter.start("brief", "local", "validate_brief")
    brief_state = validate_brief(brief, render, out, run_dir, return_state=True)
    brief_state.result()
    meter.finish("brief", [brief_state])

    meter.start("script", providers.llm, "write_script")
    script_state = profiled(write_script)(brief, providers.llm, script, return_state=True)
    script = script_state.result()
    meter.finish("script", [script_state], degraded=script.fallback_reason)
    if review:  # waits for a person; a deployment run is suspended and holds no worker meanwhile
        verdict = review_script(script, providers, settings.review_timeout)
        if verdict.decision != "approve":
            return Cancelled(message=verdict.message)
        script = verdict.script

    n = len(script.scenes)
    width, height = render.frame_size(brief.aspect)
    meter.start("voice", providers.tts, "synthesize_narration")
    meter.start("visuals", providers.images, "generate_scene_image")
    voice = profiled(synthesize_narration).map(
        unmapped(run_dir), range(n), [s.narration for s in script.scenes], unmapped(providers.tts),
        unmapped(voice_settings(brief)), total=unmapped(n),
    )
    images = scene_visuals(run_dir, script, brief, width, height, render.fps, job, providers.images)
    wait(voice)
    narrations = voice.result()
    meter.finish("voice", [f.state for f in voice], degraded=fallback_summary(narrations))
    wait(images)
    pictures = images.result()
    meter.finish("visuals", [f.state for f in images], degraded=fallback_summary(pictures))

    meter.start("composition", providers.renderer, "build_timeline", "mix_soundtrack", "render_segment",
                "finish_video")
    timeline = build_timeline(run_dir, narrations, pictures, render, brief.aspect)
    soundtrack = profiled(mix_soundtrack).submit(run_dir, narrations, render, timeline.duration)
    plans = [segment_plan(timeline, i) for i in range(n)]
    digests = [image_digests(timeline, i) for i in range(n)]
    segments = profiled(render_segment).map(
        unmapped(run_dir), range(n), plans, digests, unmapped(providers.renderer), total=unmapped(n)
    )
    wait(segments)
    soundtrack.wait()
    finished = profiled(finish_video)(
        run_dir, timeline, segments.result(), soundtrack.result(), out, script.title, job,
        sum(x.duration for x in narrations), return_state=True,
    )
    video = finished.result()
    write_credits(out, pictures)  # `<video>.credits.txt`: who made the footage, as the stock sites ask
    meter.finish("composition", [soundtrack.state, *(f.state for f in segments), finished])
    tracker.publish(video, script, pictures, providers, meter.results)
    return video.model_copy(update={
        "metrics": meter.results, "degraded": meter.degraded(), "estimated_cost_usd": estimate.total_usd,
        "cost_usd": spent(script, pictures, providers).total_usd,
    })
