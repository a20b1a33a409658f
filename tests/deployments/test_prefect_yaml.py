"""prefect.yaml as data: every deployment's entrypoint loads, and its parameters validate the way the
server validates them when a run is created; the run form's fields all have titles and descriptions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.validation import ValidationError, validate

from tasks.playlist import load_briefs

REPO = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((REPO / "prefect.yaml").read_text())
DEPLOYMENTS = {d["name"]: d for d in CONFIG["deployments"]}


def schema_of(deployment: dict[str, Any]) -> dict[str, Any]:
    flow: Flow[..., Any] = load_flow_from_entrypoint(str(REPO / deployment["entrypoint"]))
    return parameter_schema(flow).model_dump_for_openapi()


def test_the_four_deployments_are_defined() -> None:
    assert set(DEPLOYMENTS) == {"on-demand", "gpu", "daily", "smoke"}
    pools = {name: d["work_pool"]["name"] for name, d in DEPLOYMENTS.items()}
    assert pools == {"on-demand": "aura-cpu", "gpu": "aura-gpu", "daily": "aura-cpu", "smoke": "aura-cpu"}
    assert DEPLOYMENTS["gpu"]["parameters"]["providers"]["images"].startswith("diffusers:")
    assert DEPLOYMENTS["daily"]["schedules"] == [{"cron": "0 6 * * *", "timezone": "UTC"}]
    assert all(d.get("enforce_parameter_schema") is True for d in DEPLOYMENTS.values())
    assert set(CONFIG["definitions"]) >= {"work_pools", "parameters"}


def test_pull_step_works_in_the_clone_that_ran_prefect_deploy() -> None:
    assert CONFIG["build"] == [{"prefect.deployments.steps.run_shell_script": {
        "id": "clone", "script": "pwd", "stream_output": False}}]
    assert CONFIG["pull"] == [{"prefect.deployments.steps.set_working_directory": {
        "directory": "{{ clone.stdout }}"}}]


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_entrypoint_loads_and_parameters_validate(name: str) -> None:
    deployment = DEPLOYMENTS[name]
    flow: Flow[..., Any] = load_flow_from_entrypoint(str(REPO / deployment["entrypoint"]))
    params = dict(deployment.get("parameters", {}))
    if "brief" in flow.parameters.required and "brief" not in params:
        params["brief"] = {"topic": "How tides work"}  # on-demand runs name their topic
    assert validate(params, schema_of(deployment), raise_on_error=True) == []
    flow.validate_parameters(params)  # and the flow's own pydantic validation accepts them


@pytest.mark.parametrize("params, complaint", [
    ({"brief": {"topic": "x", "duration": 5}}, "'brief.duration'. Failure reason: 5 is less than the minimum of 10"),
    ({"brief": {"duration": 30}}, "'topic' is a required property"),
    ({"brief": {"topic": "x", "aspect": "4:3"}}, "'brief.aspect'"),
    ({"brief": {"topic": "x"}, "render": {"fps": 7}}, "'render.fps'"),
    ({"brief": {"topic": "x", "colour": "red"}}, "Additional properties are not allowed ('colour' was unexpected)"),
])
def test_invalid_parameters_are_rejected_with_what_to_fix(params: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate(params, schema_of(DEPLOYMENTS["on-demand"]), raise_on_error=True)
    assert complaint in str(caught.value)


def test_every_form_field_has_a_title_a_description_and_a_default_except_the_topic() -> None:
    schema = schema_of(DEPLOYMENTS["on-demand"])
    definitions = schema["definitions"]
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"parameter {name} has no description"
    assert schema["required"] == ["brief"]
    for model in ("Brief", "RenderSpec", "Providers"):
        for field, prop in definitions[model]["properties"].items():
            target = definitions[prop["$ref"].split("/")[-1]] if "$ref" in prop else {}
            assert prop.get("title") or target.get("title"), f"{model}.{field} has no title"
            assert prop.get("description") or target.get("description"), f"{model}.{field} has no description"
            if (model, field) != ("Brief", "topic"):
                assert "default" in prop, f"{model}.{field} has no default"
            # the form shows a union such as "choice or null" as an uneditable "Property is type None"
            assert "anyOf" not in prop, f"{model}.{field} is a union: {prop['anyOf']}"
    assert definitions["Brief"]["required"] == ["topic"]


def test_the_daily_briefs_file_loads() -> None:
    briefs = load_briefs(REPO / DEPLOYMENTS["daily"]["parameters"]["briefs_file"])
    assert len(briefs) >= 3 and briefs[0].topic == "How honeybees communicate"


def test_compose_file_wires_postgres_shared_storage_and_one_gpu_per_worker() -> None:
    compose = yaml.safe_load((REPO / "deployments" / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "server", "setup", "worker-cpu", "worker-gpu", "dask-scheduler",
                             "dask-worker"}
    assert services["server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"].startswith(
        "postgresql+asyncpg://")
    for name in ("worker-cpu", "worker-gpu", "dask-worker"):
        service = services[name]
        assert "aura-data:/data" in service["volumes"], name
        assert service["environment"]["AURA_HOME"].startswith("/data/"), name
        assert service["environment"]["PREFECT_LOCAL_STORAGE_PATH"].startswith("/data/"), name
        assert service["environment"]["PREFECT_API_URL"] == "http://server:4200/api", name
    gpu = services["worker-gpu"]
    assert gpu["command"] == "deployments/worker.sh aura-gpu 0"
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] == ["0"]
    assert "pools.sh" in services["setup"]["command"] and "deploy --all" in services["setup"]["command"]


@pytest.mark.parametrize("script", ["pools.sh", "server.sh", "worker.sh"])
def test_scripts_are_executable_bash(script: str) -> None:
    import os
    import subprocess

    path = REPO / "deployments" / script
    assert os.access(path, os.X_OK)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
