"""The Lambda asset is built by pip with the Lambda platform's options, without Docker."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stacks import bundling
from stacks.bundling import LocalPipBundling, install_command, source_hash, wheelhouse


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


@pytest.mark.parametrize(
    ("architecture", "platform"),
    [("arm64", "manylinux2014_aarch64"), ("x86_64", "manylinux2014_x86_64")],
)
def test_pip_targets_the_lambda_platform(architecture: str, platform: str, tmp_path: Path) -> None:
    command = install_command(architecture, tmp_path)  # type: ignore[arg-type]
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert _option(command, "--platform") == platform
    assert _option(command, "--python-version") == "3.13"
    assert _option(command, "--implementation") == "cp"
    assert "--only-binary=:all:" in command
    assert _option(command, "--target") == str(tmp_path)
    assert _option(command, "-r").endswith("lambdas/requirements.txt")


def test_a_filled_wheelhouse_makes_pip_work_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundling, "REPO_ROOT", tmp_path)
    assert "--no-index" not in install_command("arm64", tmp_path / "out")
    wheels = wheelhouse("arm64")
    wheels.mkdir(parents=True)
    (wheels / "httpx-0.28.1-py3-none-any.whl").write_bytes(b"")
    command = install_command("arm64", tmp_path / "out")
    assert "--no-index" in command
    assert _option(command, "--find-links") == str(wheels)


def test_asset_hash_changes_with_the_architecture() -> None:
    assert source_hash("arm64") != source_hash("x86_64")
    assert source_hash("arm64") == source_hash("arm64")


@pytest.mark.slow
def test_local_bundling_builds_the_asset_from_the_wheelhouse(tmp_path: Path) -> None:
    if not any(wheelhouse("arm64").glob("*.whl")):
        pytest.skip("no wheelhouse: run `python -m stacks.bundling download` (make setup does)")
    assert LocalPipBundling("arm64").try_bundle(str(tmp_path), None)  # type: ignore[arg-type]
    assert (tmp_path / "lambdas" / "list_pages" / "handler.py").is_file()
    assert (tmp_path / "lambdas" / "requirements.txt").is_file()
    assert (tmp_path / "httpx").is_dir()
    compiled = [p.name for p in tmp_path.glob("selectolax/*.so")]
    assert compiled, "selectolax's compiled extension is in the asset"
    assert all("aarch64" in name for name in compiled)
    assert not list(tmp_path.rglob("__pycache__"))
