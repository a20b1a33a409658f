"""Local voices compared: espeak-ng, Kokoro and Piper speaking the same passage, one run each.

Each engine runs in a fresh process of its own, so that its load time and peak memory are its
own: load (import, model and session), then one synthesis of the passage. Printed per engine:
seconds of audio per second of wall time and of CPU time, load time, peak resident memory, and
each figure's ratio to espeak's, measured in the same invocation.

    python benchmarks/voices_bench.py --test-models           # Kokoro and Piper from the test extra's packages
    python benchmarks/voices_bench.py --kokoro af_heart --piper en_US-lessac-medium   # your model folders
    python benchmarks/voices_bench.py --threads 1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSAGE = (
    "Twice a day the sea rises and falls along the coast. The Moon pulls on the oceans, and the water on the "
    "side facing it bulges out by about 50 centimetres in open water. As Earth turns, each shore passes under "
    "that bulge — and under a second one on the far side — so most places see two high tides every 24 hours "
    "and 50 minutes. When the Sun and the Moon line up, at new and full moon, their pulls add up: these are "
    "the spring tides. A week later they pull at right angles, and the neap tides are gentle."
)

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0, c0 = time.perf_counter(), time.process_time()
from providers.base import VoiceSettings
from providers.registry import resolve
spec, out, text = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
provider = resolve("tts", spec)
provider.synthesize("Hello.", out.with_name("warm.wav"), VoiceSettings())  # loads the model
load, load_cpu = time.perf_counter() - t0, time.process_time() - c0
t1, c1 = time.perf_counter(), time.process_time()
speech = provider.synthesize(text, out, VoiceSettings())
wall, cpu = time.perf_counter() - t1, time.process_time() - c1
print(json.dumps({"spec": spec, "audio": speech.duration, "wall": wall, "cpu": cpu, "load": load,
                  "load_cpu": load_cpu, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "words": len(speech.words), "estimated": speech.timings_estimated}))
"""


def run_engine(spec: str, env: dict[str, str], folder: Path) -> dict[str, Any]:
    """Load and run one engine in its own process; its measurements."""
    done = subprocess.run([sys.executable, "-c", _CHILD, spec, str(folder / f"{spec.split(':')[0]}.wav"), PASSAGE],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{spec} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else '?'}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def table(results: list[dict[str, Any]]) -> str:
    """The results as a table, each figure with its ratio to the first row's (espeak)."""
    ref = results[0]
    rows = [f"{'engine':26} {'audio s':>8} {'audio/wall':>17} {'audio/CPU':>17} {'load s':>15} {'peak MB':>15}"]
    for r in results:
        per_wall, per_cpu = r["audio"] / r["wall"], r["audio"] / max(r["cpu"], 1e-9)
        ref_wall, ref_cpu = ref["audio"] / ref["wall"], ref["audio"] / max(ref["cpu"], 1e-9)
        rows.append(
            f"{r['spec']:26} {r['audio']:8.2f} {per_wall:8.3g} ×{per_wall / ref_wall:<7.3g} "
            f"{per_cpu:8.3g} ×{per_cpu / ref_cpu:<7.3g} {r['load']:6.2f} ×{r['load'] / ref['load']:<7.3g} "
            f"{r['peak_mb']:6.0f} ×{r['peak_mb'] / ref['peak_mb']:<7.3g}"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kokoro", default="", help="Kokoro voice (model files from AURA_KOKORO_DIR).")
    parser.add_argument("--piper", default="", help="Piper voice (files from AURA_PIPER_VOICES).")
    parser.add_argument("--test-models", action="store_true",
                        help="Use the test extra's Kokoro (jf_alpha) and Piper (en_US-joe-medium) packages.")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (default: all cores).")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aura-voices-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, "AURA_HOME": str(folder / "home")}
        if args.threads:
            env["AURA_TTS_THREADS"] = str(args.threads)
        specs = ["espeak:en-us"]
        if args.test_models:
            from tests.providers.voice_models import KOKORO_VOICE, PIPER_VOICE, kokoro_folder, piper_folder

            env["AURA_KOKORO_DIR"] = str(kokoro_folder(folder))
            env["AURA_PIPER_VOICES"] = str(piper_folder(folder))
            args.kokoro, args.piper = args.kokoro or KOKORO_VOICE, args.piper or PIPER_VOICE
        specs += [f"kokoro:{args.kokoro}"] if args.kokoro else []
        specs += [f"piper:{args.piper}"] if args.piper else []
        if args.kokoro:  # the one-time graph patch is not part of the load time
            run_engine(specs[specs.index(f"kokoro:{args.kokoro}")], env, folder)
        results = [run_engine(spec, env, folder) for spec in specs]

    if args.json:
        print(json.dumps(results, indent=1))
        return
    words = len(PASSAGE.split())
    print(f"the same passage ({words} words), one run per engine, each in a fresh process; ratios to espeak")
    print(table(results))
    if any(r["estimated"] for r in results):
        print("note: some word timings were estimated")


if __name__ == "__main__":
    main()
