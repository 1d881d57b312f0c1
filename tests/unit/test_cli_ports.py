"""`flightline ui` / `flightline serve` and `make ui` / `make serve` take a port and a host; the CLI
refuses option combinations that do not go together."""

import shutil
import subprocess

import pytest

from bench.local_servers import free_port
from flightline import cli, settings


@pytest.fixture
def exec_calls(monkeypatch, tmp_path) -> list[list[str]]:
    """What `flightline` would exec, instead of exec'ing it."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.chdir(tmp_path)  # `flightline ui` changes into the project; restored afterwards
    calls: list[list[str]] = []

    def execvp(exe: str, argv: list[str]) -> None:  # exec never returns
        assert exe == argv[0]
        calls.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(cli.os, "execvp", execvp)
    monkeypatch.setattr("flightline.bento_store.latest_bento_tag", lambda: "delay_service:v1")
    return calls


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_ui_starts_dagster_dev_on_the_given_port_and_host(exec_calls):
    port = free_port()
    for argv in (["ui"], ["ui", "--port", str(port)], ["ui", "--host", "0.0.0.0"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
    default, chosen, exposed = exec_calls
    assert default[:4] == ["dagster", "dev", "-m", "definitions"]
    assert (option(default, "--host"), option(default, "--port")) == ("127.0.0.1", "3000")
    assert (option(chosen, "--host"), option(chosen, "--port")) == ("127.0.0.1", str(port))
    assert (option(exposed, "--host"), option(exposed, "--port")) == ("0.0.0.0", "3000")


def test_serve_defaults_to_3001_on_loopback(exec_calls):
    port = free_port()
    for argv in (["serve"], ["serve", "--port", str(port)]):
        with pytest.raises(SystemExit):
            cli.main(argv)
    default, chosen = exec_calls
    assert (option(default, "--host"), option(default, "--port")) == ("127.0.0.1", "3001")
    assert option(chosen, "--port") == str(port)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["ui", "serve"])
def test_make_passes_port_and_host_through(target):
    port = free_port()

    def dry_run(*variables: str) -> str:
        # -n prints the recipe without running it (nothing is started or installed).
        out = subprocess.run(
            ["make", "-n", "-C", str(settings.PROJECT_ROOT), target, *variables],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return next(line for line in out.splitlines() if f"flightline {target}" in line)

    assert dry_run(f"PORT={port}").split()[-2:] == ["--port", str(port)]
    assert dry_run("HOST=0.0.0.0").split()[-2:] == ["--host", "0.0.0.0"]
    # Without PORT the CLI's default applies (3000 for the UI, 3001 for the service).
    assert "--port" not in dry_run()


def test_materialize_full_rebuild_needs_features(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["materialize", "--from", "2013-01", "--to", "2013-01", "--full-rebuild"])
    assert exit_.value.code == 2
    assert "--full-rebuild rebuilds the features: use it with --features" in capsys.readouterr().err
