"""templates/Dockerfile, read as Docker would (docker build cannot run here): pinned bases, every COPY source
in the repository, and every FLEX_TEMPLATE_* variable pointing at a file the image will hold."""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "templates" / "Dockerfile"
LAUNCHER = "/opt/google/dataflow/python_template_launcher"
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass
class Image:
    """What the Dockerfile's last stage holds: image path -> repository path, plus its settings."""

    bases: list[str] = field(default_factory=list)
    stages: dict[str, str] = field(default_factory=dict)  # stage name -> image
    files: dict[str, Path] = field(default_factory=dict)  # image path -> repository path (files and folders)
    copied_from_stages: dict[str, tuple[str, str]] = field(default_factory=dict)  # image path -> (stage, path)
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: str = ""
    sources: list[str] = field(default_factory=list)  # every COPY source, relative to the build context


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


def parse(text: str) -> Image:
    image, variables, workdir = Image(), {}, "/"

    def expand(value: str) -> str:
        return _VARIABLE.sub(lambda m: variables[m[1] or m[2]], value).strip('"')

    for instruction, args in instructions(text):
        if instruction == "FROM":
            parts = args.split()
            image.bases.append(parts[0])
            if len(parts) == 3 and parts[1].upper() == "AS":
                image.stages[parts[2]] = parts[0]
            image.files, image.copied_from_stages, workdir = {}, {}, "/"  # a new stage starts empty
        elif instruction == "ARG":
            name, _, default = args.partition("=")
            variables[name] = default
        elif instruction == "WORKDIR":
            workdir = str(PurePosixPath(workdir, expand(args)))
        elif instruction == "ENV":
            name, _, value = args.partition("=")
            image.env[name] = variables[name] = expand(value)
        elif instruction == "COPY":
            words = args.split()
            options = [word for word in words if word.startswith("--")]
            *sources, destination = [word for word in words if not word.startswith("--")]
            target = PurePosixPath(workdir, expand(destination))
            stage = next((option.split("=", 1)[1] for option in options if option.startswith("--from=")), None)
            for source in sources:
                into = str(target / PurePosixPath(source).name) if destination.endswith("/") else str(target)
                if stage:
                    image.copied_from_stages[into] = (stage, source)
                else:
                    image.sources.append(source)
                    image.files[into] = ROOT / source
        elif instruction == "ENTRYPOINT":
            image.entrypoint = args
    return image


def locate(image: Image, path: str) -> Path | None:
    """The repository file the image holds at ``path`` (copied itself or inside a copied folder)."""
    for image_path, repo_path in image.files.items():
        if path == image_path:
            return repo_path
        if path.startswith(image_path.rstrip("/") + "/") and repo_path.is_dir():
            return repo_path / PurePosixPath(path).relative_to(image_path)
    return None


def listing(image: Image, folder: str) -> set[str]:
    """The names the image holds directly in ``folder``."""
    names = {PurePosixPath(path).name for path in image.files if str(PurePosixPath(path).parent) == folder}
    inside = locate(image, folder)
    if inside is not None and inside.is_dir():
        names |= {child.name for child in inside.iterdir()}
    return names


IMAGE = parse(DOCKERFILE.read_text())


def test_every_base_image_is_pinned_and_matches_python_and_beam():
    for base in IMAGE.bases:
        if base in IMAGE.stages:
            continue
        name, _, tag = base.rpartition(":")
        assert name and "/" not in tag, f"{base}: no tag"
        assert tag != "latest" and not tag.startswith("latest"), base
    beam_pin = re.search(r"apache-beam\[gcp\]==([\d.]+)", (ROOT / "requirements.txt").read_text())[1]
    assert IMAGE.bases[-1] == f"apache/beam_python3.11_sdk:{beam_pin}"
    assert re.fullmatch(
        r"gcr\.io/dataflow-templates-base/python311-template-launcher-base:\d{8}-rc\d\d", IMAGE.bases[0]
    )


def test_every_copied_path_exists_and_is_not_ignored():
    ignored = [
        line.strip()
        for line in (ROOT / "templates" / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert IMAGE.sources
    for source in IMAGE.sources:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_the_launcher_binary_comes_from_the_pinned_launcher_stage():
    stage, path = IMAGE.copied_from_stages[LAUNCHER]
    assert IMAGE.stages[stage] == IMAGE.bases[0]
    assert path == LAUNCHER


@pytest.mark.parametrize("name", sorted(n for n in IMAGE.env if n.startswith("FLEX_TEMPLATE_")))
def test_each_flex_template_variable_points_at_a_real_file(name):
    repo_file = locate(IMAGE, IMAGE.env[name])
    assert repo_file is not None and repo_file.is_file(), f"{name}={IMAGE.env[name]}"


def test_the_entry_file_is_the_entry_module_and_nothing_beside_it_shadows_the_standard_library():
    entry = IMAGE.env["FLEX_TEMPLATE_PYTHON_PY_FILE"]
    assert locate(IMAGE, entry) == ROOT / "beam_api_pipeline" / "flex_template.py"
    # The launcher runs `python <entry>`: its folder goes first on sys.path, so nothing there may have a
    # standard module's name (a package folder `http` would shadow the standard `http`).
    beside = {PurePosixPath(name).stem for name in listing(IMAGE, str(PurePosixPath(entry).parent))}
    assert {"flex_template", "cli", "config", "client"} <= beside
    assert beside & set(sys.stdlib_module_names) == set()


def test_the_package_and_its_dependencies_are_installed_and_workers_boot_with_beam():
    text = DOCKERFILE.read_text()
    assert "pip install --no-cache-dir -r requirements.lock" in text  # the full lock (test_requirements_lock.py)
    assert "pip install --no-cache-dir --no-deps ." in text
    assert IMAGE.entrypoint == '["/opt/apache/beam/boot"]'
