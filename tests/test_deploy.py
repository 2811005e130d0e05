"""The deployment files (deploy/): the Dockerfile, compose.yaml, .env.example and
the systemd units, held to the settings and the app they run. No image can be built
here (no Docker engine, no registry), so the Dockerfile's steps are checked as text
and its installs run through deploy/install.sh, which `make test` runs afresh for
both installs (tests/test_serving_install.py runs the image's stages on them)."""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.ops import Metrics, OpsServer
from bot.settings import Settings, load_settings, secret_keys
from tests.fakes.background import free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


# --- the Dockerfile --------------------------------------------------------------------------


def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    """{stage name: [(instruction, arguments)]}, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            current = stages.setdefault(arguments.split()[-1], [])
        current.append((instruction.upper(), arguments.strip()))
    return stages


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    return dict(
        pair.split("=", 1) for kind, args in stage if kind == "ENV" for pair in shlex.split(args)
    )


def healthcheck_url(command: list[str]) -> str:
    (url,) = re.findall(r"https?://[^'\"]+", " ".join(command))
    return url


def test_dockerfile_stages() -> None:
    stages = dockerfile_stages()
    assert list(stages) == ["build", "runtime"]
    runs = {name: [a for k, a in stage if k == "RUN"] for name, stage in stages.items()}
    assert not any("pip" in run for stage in runs.values() for run in stage), (
        "every install goes through deploy/install.sh"
    )
    assert runs["build"][0] == "deploy/install.sh build /opt/build"
    assert "articlebot index build" in runs["build"][1]  # the export and the bundled index
    assert runs["build"][2] == "deploy/install.sh wheel /opt/build /dist"
    assert runs["runtime"][0].startswith(
        "/install/deploy/install.sh serve /opt/articlebot /install/dist/articlebot-*.whl"
    )
    runtime = stages["runtime"]
    users = [a for k, a in runtime if k == "USER"]
    assert users == ["articlebot"] and "useradd" in " ".join(runs["runtime"])
    data_dir = env_of(runtime)["ARTICLEBOT_DATA_DIR"]
    assert env_of(stages["build"])["ARTICLEBOT_DATA_DIR"] == data_dir
    assert [a for k, a in runtime if k == "VOLUME"] == [f'["{data_dir}"]']
    copied = [a for k, a in runtime if k == "COPY" and "--from=build" in a]
    assert any(a.endswith(f"{data_dir} {data_dir}") for a in copied)  # the built index


def test_the_runtime_stage_copies_nothing_of_the_checkout_but_what_it_installs() -> None:
    """Deleting copied files in a later step only hides them: the runtime stage copies
    the wheel, the serving lock, the install script and the built index, nothing else."""
    runtime = dockerfile_stages()["runtime"]
    assert not [a for k, a in runtime if k == "ADD"]
    copied = []
    for kind, arguments in runtime:
        if kind == "COPY":
            words = shlex.split(arguments)
            assert "--from=build" in words, arguments  # never the build context itself
            copied += [w for w in words[:-1] if not w.startswith("--")]
    assert sorted(copied) == [
        "/data",
        "/dist",
        "/src/deploy/install.sh",
        "/src/requirements-serve.lock",
    ]
    build = dockerfile_stages()["build"]
    assert ("RUN", "deploy/install.sh wheel /opt/build /dist") in build  # /dist: the wheel alone
    (base,) = {a.split()[0] for k, a in dockerfile_stages()["build"] if k == "FROM"}
    assert base == "${PYTHON_IMAGE}"
    image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert image and re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", image[1])


def sent_to_docker(path: str) -> bool:
    """Whether `docker build` sends `path` under Dockerfile.dockerignore: the last
    pattern matching the path or a folder above it decides; `!` lets it back in."""
    lines = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    parts = path.split("/")
    above = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    sent = True
    for line in (x.strip() for x in lines):
        if not line or line.startswith("#"):
            continue
        pattern = line.removeprefix("!").rstrip("/")
        if any(fnmatch.fnmatchcase(p, pattern) for p in above):
            sent = line.startswith("!")
    return sent


def test_the_build_context_is_an_allow_list() -> None:
    """A .env, a local settings file, a token or the test suite left in the checkout
    never reaches the build; what the image is built from does."""
    for left_out in (
        ".env",
        "deploy/.env",
        "config/articlebot.local.toml",
        "articlebot.toml",
        "secrets/token.txt",
        ".git/config",
        ".venv/bin/python",
        "tests/conftest.py",
        "bot/__pycache__/cli.cpython-311.pyc",
    ):
        assert not sent_to_docker(left_out), left_out
    tracked = subprocess.run(
        ["git", "ls-files", "bot", "index", "config/articles"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    needed = ["pyproject.toml", "README.md", "requirements.lock", "requirements-serve.lock"]
    for path in [*needed, "deploy/install.sh", "config/articlebot.toml", *tracked]:
        assert sent_to_docker(path), path


async def test_the_health_checks_reach_healthz() -> None:
    """The Dockerfile's and compose's health checks ask the port the image sets
    ARTICLEBOT_OPS_PORT to, on the path the ops server answers."""
    runtime = dockerfile_stages()["runtime"]
    (check,) = [a for k, a in runtime if k == "HEALTHCHECK"]
    docker_command = json_list(check.split("CMD", 1)[1])
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for service in compose["services"].values():
        assert service["healthcheck"]["test"] == ["CMD", *docker_command]
    url = healthcheck_url(docker_command)
    port = int(env_of(runtime)["ARTICLEBOT_OPS_PORT"])
    assert url == f"http://127.0.0.1:{port}/healthz"
    assert Settings.model_fields["ops_host"].default == "127.0.0.1"
    free = free_port()
    server = OpsServer(Metrics("test"), lambda: {"ok": True}, "127.0.0.1", free)
    await server.start()
    try:
        import httpx

        async with httpx.AsyncClient() as client:
            answer = await client.get(url.replace(str(port), str(free)))
        assert answer.status_code == 200 and answer.json()["ok"] is True
    finally:
        await server.stop()


def json_list(text: str) -> list[str]:
    import json

    return json.loads(text.strip())


# --- compose ---------------------------------------------------------------------------------


def test_compose_file() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"discord", "slack"}
    data_dir = env_of(dockerfile_stages()["runtime"])["ARTICLEBOT_DATA_DIR"]
    for name, service in services.items():
        assert service["env_file"] == ".env"
        assert service["volumes"] == [f"data:{data_dir}"]
        assert service["command"][:2] == ["serve", name]
        assert service["restart"] == "unless-stopped"
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert "data" in compose["volumes"]
    slack = services["slack"]["command"]
    port = slack[slack.index("--port") + 1]
    assert services["slack"]["ports"] == [f"{port}:{port}"]
    assert slack[slack.index("--host") + 1] == "0.0.0.0"  # reachable from outside the container


# --- .env.example -------------------------------------------------------------------------


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def platform_variables() -> set[str]:
    """The variables named the platforms' way (DISCORD_TOKEN, not ARTICLEBOT_...)."""
    from pydantic import AliasChoices

    return {
        info.validation_alias.choices[0]
        for info in Settings.model_fields.values()
        if isinstance(info.validation_alias, AliasChoices)
    }


def test_env_example_maps_to_the_settings() -> None:
    """Every variable is a setting (or --config's ARTICLEBOT_CONFIG), has a comment,
    and every secret and every platform variable is there."""
    names = env_example()
    settings = {f"ARTICLEBOT_{name.upper()}" for name in Settings.model_fields}
    unknown = set(names) - settings - platform_variables() - {"ARTICLEBOT_CONFIG"}
    assert unknown == set()
    assert platform_variables() <= set(names)
    secrets = {name for name in names if name.lower() in secret_keys()}
    assert secrets == {n for n in platform_variables() if n.lower() in secret_keys()}
    assert len(secrets) == 5
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    is_variable = [bool(line) and not line.startswith("#") for line in lines]
    for index, line in enumerate(lines):
        above = index - 1
        while is_variable[index] and is_variable[above]:
            above -= 1  # variables under one comment
        assert not is_variable[index] or lines[above].startswith("#"), f"no comment: {line}"


def test_env_example_is_valid_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As Compose passes it: empty values count as unset."""
    for name, value in env_example().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.discord_token is None and settings.sync_interval_minutes is None
    assert settings.sources == [] and settings.discord_answer_channels == []


# --- systemd ---------------------------------------------------------------------------------


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values]}} of a unit file (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


@pytest.mark.parametrize("platform", ["discord", "slack"])
def test_systemd_unit(platform: str, tmp_path: Path) -> None:
    path = DEPLOY / "systemd" / f"articlebot-{platform}.service"
    service = unit(path)["Service"]
    assert service["Restart"] == ["on-failure"]
    assert service["DynamicUser"] == ["yes"] and service["User"] == ["articlebot"]
    assert service["ProtectSystem"] == ["strict"] and service["NoNewPrivileges"] == ["yes"]
    assert service["ExecStart"][0].split()[1:3] == ["serve", platform]
    environment = dict(e.split("=", 1) for e in service["Environment"])
    assert environment["ARTICLEBOT_DATA_DIR"] == f"/var/lib/{service['StateDirectory'][0]}"
    assert unit(path)["Install"]["WantedBy"] == ["multi-user.target"]
    # systemd's own check, with ExecStart pointing at this install's articlebot
    assert shutil.which("systemd-analyze"), "systemd-analyze is part of this machine image"
    installed = shutil.which("articlebot") or str(
        Path(__import__("sys").executable).parent / "articlebot"
    )
    copy = tmp_path / path.name
    copy.write_text(path.read_text().replace("/opt/articlebot/bin/articlebot", installed))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_the_two_units_use_their_own_ops_ports() -> None:
    ports = [
        dict(e.split("=", 1) for e in unit(path)["Service"]["Environment"])["ARTICLEBOT_OPS_PORT"]
        for path in sorted((DEPLOY / "systemd").glob("*.service"))
    ]
    assert len(ports) == 2 and len(set(ports)) == 2


# --- the install script and the Slack manifest -------------------------------------------------


def test_install_script_refuses_an_unknown_kind(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(DEPLOY / "install.sh"), "everything", str(tmp_path / "venv")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "usage:" in done.stderr
    assert not (tmp_path / "venv").exists()


def manifest_of(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["slack", "manifest", *args]) == 0
    return yaml.safe_load(capsys.readouterr().out)


def urls_in(value: object) -> list[str]:
    if isinstance(value, dict):
        return [
            u
            for k, v in value.items()
            for u in ([v] if k in ("url", "request_url") else urls_in(v))
        ]
    if isinstance(value, list):
        return [u for v in value for u in urls_in(v)]
    return []


def test_slack_manifest_modes(capsys: pytest.CaptureFixture[str]) -> None:
    http = manifest_of(capsys, "--url", "https://bot.example.org/")
    assert set(urls_in(http)) == {"https://bot.example.org/slack/events"}
    assert len(urls_in(http)) == 6  # four commands, events, interactivity
    socket = manifest_of(capsys, "--socket-mode")
    assert urls_in(socket) == [] and socket["settings"]["socket_mode_enabled"] is True
    assert http["oauth_config"] == socket["oauth_config"]
    assert main(["slack", "manifest", "--socket-mode", "--url", "https://x.example"]) == 2
    assert main(["slack", "manifest", "--url", "http://bot.example.org"]) == 2
