// Aura Studio page: submit a brief, follow the job over SSE (EventSource), play the video, list recent jobs.
"use strict";

const $ = (id) => document.getElementById(id);
const STAGES = ["brief", "script", "voice", "visuals", "composition"];
const state = { source: null, jobId: null, percent: 0, authRequired: false };

function apiKey() {
  return $("api-key").value.trim() || sessionStorage.getItem("aura-api-key") || "";
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (options.body) headers["Content-Type"] = "application/json";
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  const response = await fetch(path, { ...options, headers });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    throw new Error((body && body.message) || `the server answered ${response.status}`);
  }
  return body;
}

function setText(id, text) { $(id).textContent = text; }

function formatEta(seconds) {
  if (seconds === null || seconds === undefined || seconds <= 0) return "";
  if (seconds < 60) return `about ${Math.ceil(seconds)} s left`;
  return `about ${Math.ceil(seconds / 60)} min left`;
}

function setProgress(percent, stage, message, eta) {
  // progress never goes backwards, whatever arrives
  state.percent = Math.max(state.percent, Number(percent) || 0);
  const shown = Math.round(state.percent);
  $("bar-fill").style.width = `${state.percent}%`;
  $("bar").setAttribute("aria-valuenow", String(shown));
  setText("pct", `${shown} %`);
  if (stage !== undefined) setText("stage", stage ? `${stage}:` : "");
  if (message !== undefined) setText("message", message || "");
  setText("eta", formatEta(eta));
}

function renderSteps(steps) {
  const list = $("steps");
  list.replaceChildren();
  for (const step of steps) {
    const item = document.createElement("li");
    item.className = `step ${step.status}`;
    const count = step.total > 1 ? ` ${step.done}/${step.total}` : "";
    item.textContent = `${step.stage}${count}`;
    list.append(item);
  }
}

function markStep(stage, status) {
  for (const item of $("steps").children) {
    if (item.textContent.split(" ")[0] === stage) item.className = `step ${status}`;
  }
}

function setStatus(status) {
  $("job").dataset.status = status;
  $("cancel").hidden = !["pending", "running"].includes(status);
}

function closeStream() {
  if (state.source) { state.source.close(); state.source = null; }
}

function showVideo(url) {
  if (!url) { setText("job-error", "The video is done but not available on this server."); return; }
  const player = $("player");
  player.src = url;
  $("download").href = url;
  $("result").hidden = false;
}

function follow(job) {
  closeStream();
  state.jobId = job.jobId;
  state.percent = 0;
  $("job").hidden = false;
  $("result").hidden = true;
  $("player").removeAttribute("src");
  setText("job-error", "");
  setText("job-topic", job.topic || "");
  renderSteps(job.processingSteps || STAGES.map((s) => ({ stage: s, status: "waiting", done: 0, total: 0 })));
  setProgress(job.progressPercentage || 0, job.currentStage || "", job.message || "waiting for a worker…");
  setStatus(job.status || "pending");
  if (job.status === "done") { setProgress(100, "", "done"); showVideo(job.videoUrl); return; }
  if (["failed", "cancelled"].includes(job.status)) { setText("job-error", job.error || job.status); return; }

  const source = new EventSource(job.streamUrl);
  state.source = source;
  source.addEventListener("progress", (event) => {
    const data = JSON.parse(event.data);
    setStatus("running");
    setProgress(data.percentage, data.stage, data.message, data.etaSeconds);
    markStep(data.stage, ["finished", "degraded"].includes(data.state) ? "done" : "running");
  });
  source.addEventListener("done", (event) => {
    const data = JSON.parse(event.data);
    closeStream();
    setStatus("done");
    setProgress(100, "", "done", 0);
    STAGES.forEach((s) => markStep(s, "done"));
    showVideo(data.videoUrl);
    loadRecent();
  });
  // "error" is both the job's error event (it has data) and the EventSource's own connection error
  source.addEventListener("error", (event) => {
    if (event.data) {
      const data = JSON.parse(event.data);
      closeStream();
      setStatus(data.status || "failed");
      setText("job-error", data.message || "the job failed");
      loadRecent();
    } else if (source.readyState === EventSource.CLOSED) {
      setText("job-error", "Lost the connection to the server.");
    } else {
      setText("message", "reconnecting…");
    }
  });
}

async function submit(event) {
  event.preventDefault();
  setText("form-error", "");
  const brief = $("brief").value.trim();
  if (!brief) { setText("form-error", "Write a brief: what is the video about?"); return; }
  if ($("api-key").value.trim()) sessionStorage.setItem("aura-api-key", $("api-key").value.trim());
  const body = {
    brief,
    durationSeconds: Number($("duration").value),
    options: { aspect: $("aspect").value, resolution: $("resolution").value, fps: Number($("fps").value) },
  };
  if ($("audience").value.trim()) body.options.audience = $("audience").value.trim();
  if ($("style").value.trim()) body.style = $("style").value.trim();
  if ($("voice").value.trim()) body.voiceId = $("voice").value.trim();
  if ($("review").checked) body.review = true;
  if (body.options.resolution === "360p") body.options.quality = "draft";
  $("submit").disabled = true;
  try {
    const created = await api("/api/videos/generate", { method: "POST", body: JSON.stringify(body) });
    follow({ ...created, topic: brief, status: "pending" });
    if (body.review) awaitReview(created.jobId);
    loadRecent();
  } catch (error) {
    setText("form-error", error.message);
  } finally {
    $("submit").disabled = false;
  }
}

// --- review: the job waits after its script (Prefect suspends it); the page shows it as a form and answers it

async function awaitReview(jobId) {
  while (state.jobId === jobId) {
    try {
      const waiting = await api(`/api/videos/${jobId}/review`);
      showReview(waiting);
      return;
    } catch (error) {
      if (!/not waiting/.test(error.message)) { setText("job-error", error.message); return; }
    }
    if (["done", "failed", "cancelled"].includes($("job").dataset.status)) return;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

function sceneField(label, value, multiline, name) {
  const wrap = document.createElement("label");
  wrap.textContent = label;
  const input = document.createElement(multiline ? "textarea" : "input");
  input.value = value;
  input.dataset.field = name;
  if (multiline) input.rows = 3;
  wrap.appendChild(input);
  return wrap;
}

function showReview(waiting) {
  $("review-section").hidden = false;
  setText("review-cost", waiting.cost);
  setText("review-error", "");
  $("review-title-input").value = waiting.script.title;
  const list = $("review-scenes");
  list.replaceChildren();
  waiting.script.scenes.forEach((scene) => {
    const item = document.createElement("li");
    item.dataset.scene = JSON.stringify(scene);
    item.append(sceneField("Scene title", scene.title, false, "title"),
                sceneField("Narration", scene.narration, true, "narration"),
                sceneField("Visual", scene.visual_prompt, false, "visual_prompt"));
    list.appendChild(item);
  });
  setProgress(state.percent, "script", "waiting for your review");
  $("review-section").scrollIntoView({ behavior: "smooth" });
}

async function answerReview(decision) {
  const body = { decision, reason: $("review-reason").value.trim() };
  if (decision === "approve") {
    body.title = $("review-title-input").value.trim();
    body.scenes = [...$("review-scenes").children].map((item) => {
      const scene = JSON.parse(item.dataset.scene);
      item.querySelectorAll("[data-field]").forEach((input) => { scene[input.dataset.field] = input.value; });
      return scene;
    });
  }
  try {
    await api(`/api/videos/${state.jobId}/review`, { method: "POST", body: JSON.stringify(body) });
    $("review-section").hidden = true;
    setProgress(state.percent, "script", decision === "approve" ? "approved: rendering" : "rejected");
  } catch (error) {
    setText("review-error", error.message);
  }
}

async function cancel() {
  if (!state.jobId) return;
  try {
    const job = await api(`/api/videos/${state.jobId}/cancel`, { method: "POST" });
    setStatus(job.status);
  } catch (error) {
    setText("job-error", error.message);
  }
}

function recentItem(job) {
  const item = document.createElement("li");
  item.dataset.jobId = job.jobId;
  const title = document.createElement("button");
  title.type = "button";
  title.className = "link";
  title.textContent = job.topic || job.jobId;
  title.addEventListener("click", async () => {
    try { follow(await api(`/api/videos/${job.jobId}/status`)); } catch (error) { setText("form-error", error.message); }
  });
  const badge = document.createElement("span");
  badge.className = `badge ${job.status}`;
  badge.textContent = job.status === "running" ? `${Math.round(job.progressPercentage)} %` : job.status;
  const when = document.createElement("time");
  when.dateTime = job.createdAt;
  when.textContent = new Date(job.createdAt).toLocaleString();
  item.append(title, badge, when);
  if (job.videoUrl) {
    const link = document.createElement("a");
    link.href = job.videoUrl;
    link.textContent = "MP4";
    item.append(link);
  }
  return item;
}

async function loadRecent() {
  try {
    const { jobs } = await api("/api/videos?limit=20");
    $("recent").replaceChildren(...jobs.map(recentItem));
    $("recent-empty").hidden = jobs.length > 0;
  } catch (error) {
    $("recent-empty").hidden = false;
    setText("recent-empty", error.message);
  }
}

// the voice picker: the server's installed voices (espeak, Kokoro, Piper) as suggestions for the voice field
async function loadVoices() {
  try {
    const { voices } = await api("/api/voices");
    $("voice-list").replaceChildren(...voices.map((v) => {
      const option = document.createElement("option");
      option.value = v.spec;
      option.label = `${v.engine} · ${v.language}`;
      return option;
    }));
  } catch (_) { /* no list: the field still takes a typed voice */ }
}

async function start() {
  $("brief-form").addEventListener("submit", submit);
  $("cancel").addEventListener("click", cancel);
  $("review-form").addEventListener("submit", (event) => { event.preventDefault(); answerReview("approve"); });
  $("reject").addEventListener("click", () => answerReview("reject"));
  $("refresh").addEventListener("click", loadRecent);
  try {
    const health = await (await fetch("/healthz")).json();
    state.authRequired = Boolean(health.authRequired);
  } catch (_) { state.authRequired = false; }
  $("key-row").hidden = !state.authRequired;
  $("api-key").value = sessionStorage.getItem("aura-api-key") || "";
  loadRecent();
  loadVoices();
}

start();
