"""One front door: requests from the CLI, a JSON body or a briefs file become the same values, errors name the
caller's fields, and everything checkable before a run is refused before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers import registry
from providers.registry import ProviderSpec, parse_provider
from providers.settings import Settings
from tasks.requests import CLI_NAMES, JSON_NAMES, RequestError, build_request, check_ready, request_from_json


def _settings(tmp_path: Path, **values: object) -> Settings:
    """Settings as the environment would give them, with no vendor keys from outside."""
    fields: dict[str, object] = {"home": tmp_path / "home", "openai_api_key": None, "elevenlabs_api_key": None,
                                 "llm_base_url": None, **values}
    return Settings(**fields)  # type: ignore[arg-type]


def test_the_cli_and_a_json_body_give_the_same_request(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    cli = build_request({"topic": "bees", "duration": 30, "language": None}, {"resolution": "360p"},
                        {"tts": "espeak:en-us", "llm": None}, settings=settings)
    body = request_from_json({"brief": {"topic": "bees", "duration": 30}, "render": {"resolution": "360p"},
                              "providers": {"tts": "espeak:en-us"}}, settings=settings)
    assert (cli.brief, cli.render, cli.providers) == (body.brief, body.render, body.providers)
    assert cli.specs["tts"] == ProviderSpec("tts", "espeak", "en-us")
    assert cli.specs["llm"] == ProviderSpec("llm", "local", "")  # from the settings' default
    assert request_from_json({"brief": "bees"}, settings=settings).brief.topic == "bees"


def test_a_preset_decides_the_shape() -> None:
    request = build_request({"topic": "bees", "aspect": "16:9"}, {"preset": "shorts"})
    assert request.brief.aspect.value == "9:16"


@pytest.mark.parametrize(
    ("brief", "render", "providers", "cli_says", "json_says"),
    [
        ({"topic": "  "}, {}, {}, "TOPIC: the topic is empty", "brief.topic: the topic is empty"),
        ({"topic": "b", "duration": 5}, {}, {}, "--duration: ", "brief.duration: "),
        ({"topic": "b"}, {"resolution": "999p"}, {}, "--resolution: ", "render.resolution: "),
        ({"topic": "b"}, {}, {"llm": "nope:x"}, "--llm: unknown llm provider 'nope:x': choose one of",
         "providers.llm: unknown llm provider"),
        ({"topic": "b"}, {}, {"tts": "klingon-tts:x"}, "--voice: unknown tts provider", "providers.tts: unknown"),
    ],
)
def test_errors_name_the_callers_field(brief: dict[str, object], render: dict[str, object],
                                       providers: dict[str, object], cli_says: str, json_says: str) -> None:
    with pytest.raises(RequestError) as cli:
        build_request(brief, render, providers, names=CLI_NAMES)
    assert str(cli.value).startswith(cli_says)
    with pytest.raises(RequestError) as body:
        request_from_json({"brief": brief, "render": render, "providers": providers}, names=JSON_NAMES)
    assert str(body.value).startswith(json_says)
    assert "\n" not in str(cli.value) + str(body.value)


def test_a_json_body_with_unknown_or_misshapen_parts_is_refused() -> None:
    with pytest.raises(RequestError, match="^colour: not a field"):
        request_from_json({"brief": "bees", "colour": "red"})
    with pytest.raises(RequestError, match="^render: must be an object"):
        request_from_json({"brief": "bees", "render": "720p"})


def test_a_spec_is_parsed_once_into_a_typed_value() -> None:
    spec = parse_provider("images", "diffusers:/models/sdxl:turbo")
    assert (spec.capability, spec.vendor, spec.model, spec.extra) == ("images", "diffusers", "/models/sdxl:turbo",
                                                                      "diffusers")
    assert str(spec) == "diffusers:/models/sdxl:turbo" and parse_provider("images", spec) is spec
    assert registry.resolve("tts", parse_provider("tts", "espeak:en")).voice == "en"  # type: ignore[attr-defined]


def test_the_output_folder_must_exist_unless_asked(tmp_path: Path) -> None:
    with pytest.raises(RequestError, match=r"^--out: the folder .*new does not exist: create it, or .*--mkdir"):
        build_request({"topic": "b"}, out=tmp_path / "new" / "v.mp4", mkdir=False)
    assert build_request({"topic": "b"}, out=tmp_path / "new" / "v.mp4", mkdir=True).out == tmp_path / "new" / "v.mp4"
    assert not (tmp_path / "new").exists()  # nothing is created before the run
    with pytest.raises(RequestError, match=r"^--out: the output must be an \.mp4"):
        build_request({"topic": "b"}, out=tmp_path / "v.avi")


def test_keys_are_checked_before_the_run(tmp_path: Path) -> None:
    request = build_request({"topic": "b"}, {}, {"llm": "openai:gpt-4o-mini", "tts": "elevenlabs:abc"})
    with pytest.raises(RequestError, match="^--llm: openai:gpt-4o-mini needs OPENAI_API_KEY"):
        check_ready(request, settings=_settings(tmp_path))
    with pytest.raises(RequestError, match="^--voice: elevenlabs:abc needs ELEVENLABS_API_KEY"):
        check_ready(request, settings=_settings(tmp_path, openai_api_key="sk-test"))
    check_ready(request, settings=_settings(tmp_path, openai_api_key="sk-test", elevenlabs_api_key="el-test"))
    # a key kept in a Prefect Secret block is looked up by the run itself
    check_ready(request, settings=_settings(tmp_path, secret_blocks=True))
    compat = build_request({"topic": "b"}, {}, {"llm": "openai-compat:llama"})
    with pytest.raises(RequestError, match="needs AURA_LLM_BASE_URL"):
        check_ready(compat, settings=_settings(tmp_path))


def test_a_missing_extra_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.EXTRA_MODULES, "moviepy", ("aura_module_that_is_not_installed",))
    request = build_request({"topic": "b"}, {}, {"renderer": "moviepy"})
    with pytest.raises(RequestError, match=r"^--renderer: .*pip install 'aura-video\[moviepy\]'"):
        check_ready(request, settings=_settings(tmp_path))


@pytest.mark.parametrize("voice", ["espeak:no-such-voice", "espeak:..", "espeak:../lang", "espeak:.", "local:/etc"])
def test_voices_come_from_the_engines_list_never_paths(tmp_path: Path, voice: str) -> None:
    request = build_request({"topic": "b"}, {}, {"tts": voice})
    with pytest.raises(RequestError, match="^--voice: .*no voice"):
        check_ready(request, settings=_settings(tmp_path))


def test_known_voices_pass(tmp_path: Path) -> None:
    for voice in ("local", "espeak:en", "espeak:en-us", "espeak:de"):
        check_ready(build_request({"topic": "b"}, {}, {"tts": voice}), settings=_settings(tmp_path))


def test_the_brief_language_must_be_one_the_local_voice_speaks(tmp_path: Path) -> None:
    """No voice named: espeak speaks the brief's language, so a code it has no voice for is refused at the door."""
    with pytest.raises(RequestError, match="^--language: .*no voice 'xx'"):
        check_ready(build_request({"topic": "b", "language": "xx"}), settings=_settings(tmp_path))
    check_ready(build_request({"topic": "b", "language": "de"}), settings=_settings(tmp_path))
    # a voice named explicitly is what speaks, whatever the language says
    check_ready(build_request({"topic": "b", "language": "xx"}, {}, {"tts": "espeak:en"}), settings=_settings(tmp_path))


def test_aura_home_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "home").write_text("not a folder")
    with pytest.raises(RequestError, match="^AURA_HOME: .*is a file, not a folder: point AURA_HOME at a folder"):
        check_ready(build_request({"topic": "b"}), settings=_settings(tmp_path))


def test_too_little_disk_for_this_job_is_refused_before_the_run(small_disk: Path, tmp_path: Path) -> None:
    request = build_request({"topic": "b", "duration": 10}, {"resolution": "360p"})
    with pytest.raises(RequestError, match=r"^AURA_HOME: only 0\.00 GB free in .*small-disk; a 10 s video needs"):
        check_ready(request, settings=Settings(home=small_disk / "aura"))
    elsewhere = build_request({"topic": "b", "duration": 10}, {"resolution": "360p"}, out=small_disk / "v.mp4")
    with pytest.raises(RequestError, match=r"^--out: only 0\.00 GB free in .*small-disk"):
        check_ready(elsewhere, settings=_settings(tmp_path))
    assert list(small_disk.iterdir()) == []


def test_providers_refuse_an_unknown_vendor_at_every_door() -> None:
    from pydantic import ValidationError

    from tasks.schemas import Providers

    with pytest.raises(ValidationError, match="unknown tts provider 'nope:x': choose one of"):
        Providers(tts="nope:x")  # the flow's parameters: the run form, `prefect deployment run`, a briefs file
    assert Providers(images="pexels", tts="espeak:en").tts == "espeak:en"


def test_an_api_body_becomes_the_same_request_under_the_servers_policy(tmp_path: Path) -> None:
    from tasks.requests import allowed_vendors, request_from_api

    settings = _settings(tmp_path)
    defaults = {"llm": "local", "tts": "espeak:en-us", "images": "local", "renderer": "ffmpeg"}
    allowed = allowed_vendors("local, espeak, cards, ffmpeg, media, nonsuch", defaults)
    assert allowed["tts"] == ["espeak", "local"] and "nonsuch" not in sum(allowed.values(), [])
    policy = {"defaults": defaults, "allowed": allowed, "max_duration": 120.0, "settings": settings}

    made = request_from_api({"brief": "bees", "durationSeconds": 30, "voiceId": "en-gb",
                             "options": {"resolution": "360p", "aspect": "9:16"}}, **policy)  # type: ignore[arg-type]
    cli = build_request({"topic": "bees", "duration": 30, "aspect": "9:16"}, {"resolution": "360p"},
                        {"tts": "espeak:en-gb", "llm": "local"}, settings=settings)
    assert (made.brief, made.render, made.providers) == (cli.brief, cli.render, cli.providers)
    assert request_from_api({"brief": "bees"}, **policy).brief.duration == 60  # type: ignore[arg-type]

    refusals = [
        ({"brief": "bees", "durationMinutes": 3}, "durationMinutes", "invalid_request", "at most 120 seconds"),
        ({"brief": "bees", "voiceId": "elevenlabs:abc"}, "voiceId", "provider_not_allowed", "'elevenlabs' is not"),
        ({"brief": "bees", "providers": {"llm": "openai:gpt-4o"}}, "providers.llm", "provider_not_allowed",
         "allowed: local"),
        ({"brief": "bees", "voiceId": "nosuch"}, "voiceId", "invalid_request", "espeak-ng has no voice 'nosuch'"),
        ({"brief": " "}, "brief", "invalid_request", "the topic is empty"),
        ({"brief": "bees", "providers": {"images": f"media:{tmp_path}"}}, "providers.images",
         "media_folder_not_allowed", "AURA_MEDIA_DIRS"),
    ]
    for body, field, code, words in refusals:
        with pytest.raises(RequestError) as refused:
            request_from_api(body, **policy)  # type: ignore[arg-type]
        assert (refused.value.field, refused.value.code) == (field, code), body
        assert words in refused.value.message, refused.value.message
