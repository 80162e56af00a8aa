"""The Lambda asset, built without Docker: the `lambdas` package plus its pip dependencies.

CDK calls `LocalPipBundling.try_bundle` (an ILocalBundling) which copies `lambdas/` and runs
pip with the Lambda platform's options, so wheels match the function's architecture whatever
machine synthesizes. Offline synth: `python -m stacks.bundling download` (called by
`make setup`) fills `.build/wheels-<arch>/`; when that wheelhouse exists pip installs from it
with `--no-index`, so `make synth` needs no network.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import cast

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from stacks.config import Architecture

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO_ROOT / "lambdas"
REQUIREMENTS = LAMBDAS_DIR / "requirements.txt"
PYTHON_VERSION = "3.13"
PIP_PLATFORMS: dict[str, str] = {
    "arm64": "manylinux2014_aarch64",
    "x86_64": "manylinux2014_x86_64",
}
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


class BundlingError(RuntimeError):
    """pip could not build the asset; the message says what to run."""


def wheelhouse(architecture: Architecture) -> Path:
    return REPO_ROOT / ".build" / f"wheels-{architecture}"


def _platform_args(architecture: Architecture) -> list[str]:
    return [
        "--platform", PIP_PLATFORMS[architecture],
        "--only-binary=:all:",
        "--python-version", PYTHON_VERSION,
        "--implementation", "cp",
    ]  # fmt: skip


def install_command(architecture: Architecture, target: Path) -> list[str]:
    """The pip command that installs the runtime dependencies into `target`."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
               "--disable-pip-version-check", "-r", str(REQUIREMENTS),
               "--target", str(target), *_platform_args(architecture)]  # fmt: skip
    wheels = wheelhouse(architecture)
    if wheels.is_dir() and any(wheels.glob("*.whl")):
        command += ["--no-index", "--find-links", str(wheels)]
    return command


def download_command(architecture: Architecture) -> list[str]:
    return [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "-r", str(REQUIREMENTS), "--dest", str(wheelhouse(architecture)),
            *_platform_args(architecture)]  # fmt: skip


def source_hash(architecture: Architecture) -> str:
    """Changes when the code, the requirements or the target platform change."""
    digest = hashlib.sha256(f"{architecture}|{PYTHON_VERSION}".encode())
    for path in sorted(LAMBDAS_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(str(path.relative_to(LAMBDAS_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    """Builds the asset on this machine (CDK falls back to Docker only if this returns False)."""

    def __init__(self, architecture: Architecture) -> None:
        self.architecture = architecture

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        out = Path(output_dir)
        shutil.copytree(LAMBDAS_DIR, out / "lambdas", ignore=_IGNORED, dirs_exist_ok=True)
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            install_command(self.architecture, out), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise BundlingError(
                f"pip could not install lambdas/requirements.txt for {self.architecture}: "
                f"{result.stderr.strip().splitlines()[-1:] or ['(no output)']}. Offline? Run "
                "`python -m stacks.bundling download` once while online (make setup does)."
            )
        return True


def lambda_code(architecture: Architecture) -> lambda_.Code:
    """One asset for the three functions. Handlers are `lambdas.<function>.handler.handler`."""
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(architecture),
        bundling=BundlingOptions(
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,  # never used: local bundling
            # jsii passes the options as one struct, which mypy cannot see in the protocol.
            local=cast(ILocalBundling, LocalPipBundling(architecture)),
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.bundling")
    sub = parser.add_subparsers(dest="command", required=True)
    download = sub.add_parser("download", help="fill .build/wheels-<arch>/ for offline synth")
    download.add_argument("--arch", choices=[*PIP_PLATFORMS, "all"], default="all")
    args = parser.parse_args(argv)
    architectures: list[Architecture] = ["arm64", "x86_64"] if args.arch == "all" else [args.arch]
    for architecture in architectures:
        wheelhouse(architecture).mkdir(parents=True, exist_ok=True)
        result = subprocess.run(download_command(architecture), check=False)  # noqa: S603
        if result.returncode != 0:
            print(f"crawlmap bundling: pip download failed for {architecture}", file=sys.stderr)
            return result.returncode
        count = len(list(wheelhouse(architecture).glob("*.whl")))
        print(f"{wheelhouse(architecture).relative_to(REPO_ROOT)}: {count} wheels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
