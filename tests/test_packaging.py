"""The package as a user gets it: metadata, the built sdist and wheel, and a fresh install from the wheel.

The slow tests build the sdist and the wheel (setuptools' build hooks, no
network), install the wheel with its ``plot`` extra into a fresh venv with
``pip --no-index --find-links`` (its dependencies come from this
environment through a path file, never from the network), run ``dualdiff
demo`` there, and run the sdist's own test suite in the unpacked sdist. They
run when ``CI`` or ``DUALDIFF_SLOW`` is set (``.ci/run`` runs in CI), and are
skipped otherwise: together they take a minute or two.
"""

import email
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import dualdiff
from dualdiff import extras

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")

_skip_unless_asked = pytest.mark.skipif(
    not (os.environ.get("CI") or os.environ.get("DUALDIFF_SLOW")),
    reason="builds and installs the package: set DUALDIFF_SLOW=1 (CI sets CI)",
)


def slow(test):
    """Marked ``slow`` (``-m "not slow"`` leaves it out) and skipped unless CI or DUALDIFF_SLOW is set."""
    return pytest.mark.slow(_skip_unless_asked(test))


def project_field(name):
    m = re.search(rf'^{name}\s*=\s*"([^"]*)"', PYPROJECT, re.M)
    assert m, f"pyproject.toml has no {name}"
    return m.group(1)


def test_install_hints_name_the_distribution_and_its_real_extras():
    assert project_field("name") == extras.DISTRIBUTION
    declared = set(
        re.findall(r"^(\w+) = \[", PYPROJECT.split("[project.optional-dependencies]")[1].split("\n[")[0], re.M)
    )
    assert set(extras.EXTRAS) <= declared, set(extras.EXTRAS) - declared
    for extra in extras.EXTRAS:
        assert extras.install_hint(extra) == f"pip install '{extras.DISTRIBUTION}[{extra}]'"
    with pytest.raises(ValueError, match="unknown extra 'plots'"):
        extras.install_hint("plots")


def test_no_install_hint_names_the_unrelated_dualdiff_distribution():
    # "dualdiff" on the package index is another project: every hint must say dualdiff-ad
    bad = re.compile(r"pip install\s+['\"]?dualdiff(\[|['\"\s]|$)")
    offenders = []
    for path in [*ROOT.glob("*.md"), *ROOT.glob("docs/**/*.md"), *ROOT.glob("dualdiff/**/*.py"), *ROOT.glob(".ci/*")]:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if bad.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, offenders


def test_one_version_source():
    assert 'dynamic = ["version"]' in PYPROJECT
    assert 'version = { attr = "dualdiff._version.__version__" }' in PYPROJECT
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+|\.dev\d+)?", dualdiff.__version__)
    assert "__version__ =" not in (ROOT / "dualdiff" / "__init__.py").read_text(encoding="utf-8").replace(
        "import __version__ as __version__", ""
    )


def test_license_file_and_spdx_expression():
    assert project_field("license") == "MIT"
    assert 'license-files = ["LICENSE"]' in PYPROJECT
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Copyright (c)" in text and "the dualdiff authors" in text


def test_import_does_not_load_optional_dependencies():
    code = "import sys, dualdiff; print(sorted(m for m in ('scipy', 'matplotlib', 'jax', 'torch') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=_env(PYTHONPATH=str(ROOT))
    )
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.pop("CI", None)
    env.pop("DUALDIFF_SLOW", None)
    env["PIP_CONFIG_FILE"] = os.devnull  # no index, constraints or find-links from the machine's pip config
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def _copy_source(dest):
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache", ".ruff_cache"
    )
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sdist and the wheel, built offline from a copy of the source tree."""
    pytest.importorskip("setuptools", minversion="77")
    tmp = tmp_path_factory.mktemp("build")
    src = _copy_source(tmp / "src")
    dist = tmp / "dist"
    built = []
    for hook in ("build_sdist", "build_wheel"):  # one process each: setuptools keeps state between the two
        code = f"import sys; from setuptools import build_meta as b; print('BUILT', b.{hook}(sys.argv[1]))"
        out = subprocess.run(
            [sys.executable, "-c", code, str(dist)], capture_output=True, text=True, cwd=src, env=_env(), timeout=300
        )
        assert out.returncode == 0, out.stderr[-3000:]
        built.append(re.search(r"^BUILT (\S+)$", out.stdout, re.M).group(1))
    sdist_name, wheel_name = built
    return dist / sdist_name, dist / wheel_name


@slow
def test_wheel_and_sdist_carry_the_license_and_what_the_tests_need(built):
    sdist, wheel = built
    version = dualdiff.__version__
    assert wheel.name == f"dualdiff_ad-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = f"dualdiff_ad-{version}.dist-info"
        assert f"{info}/licenses/LICENSE" in names
        assert "dualdiff/py.typed" in names and "dualdiff/_version.py" in names
        assert not any(n.startswith(("tests/", "benchmarks/", "docs/")) for n in names)
        meta = email.message_from_bytes(z.read(f"{info}/METADATA"))
        entry_points = z.read(f"{info}/entry_points.txt").decode()
    assert meta["Name"] == "dualdiff-ad" and meta["Version"] == version
    assert meta["License-Expression"] == "MIT" and meta.get_all("License-File") == ["LICENSE"]
    assert 'Requires-Dist: matplotlib; extra == "plot"' in str(meta)
    assert "dualdiff = dualdiff.cli.main:main" in entry_points
    with tarfile.open(sdist) as t:
        names = set(t.getnames())
    top = f"dualdiff_ad-{version}"
    for needed in ["LICENSE", "README.md", "pyproject.toml", "tests/reference.py", "tests/test_rules.py", "mkdocs.yml"]:
        assert f"{top}/{needed}" in names, needed
    assert any(n.startswith(f"{top}/notebooks/") and n.endswith(".ipynb") for n in names)
    assert not any("__pycache__" in n or ".egg-info/" in n.replace(f"{top}/dualdiff_ad.egg-info/", "") for n in names)


def _dependency_closure(requirements, extra):
    """The installed distributions that ``requirements`` (with ``extra``) needs, recursively."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen, todo = {}, [(r, extra) for r in requirements]
    while todo:
        text, ex = todo.pop()
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ex or ""}):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        dist = metadata.distribution(req.name)
        seen[name] = dist
        todo.extend((r, e) for r in dist.requires or [] for e in (None, *req.extras))
    return seen.values()


def _site_with(dists, where):
    """A folder of links to the files of ``dists``: a site directory holding just those distributions."""
    where.mkdir()
    for dist in dists:
        base = Path(dist.locate_file(""))
        tops = {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            if not (where / top).exists() and (base / top).exists():
                (where / top).symlink_to(base / top)
    return where


@slow
def test_a_fresh_venv_installs_the_wheel_with_its_plot_extra_offline(built, tmp_path):
    pytest.importorskip("matplotlib")
    _, wheel = built
    with zipfile.ZipFile(wheel) as z:
        meta = email.message_from_bytes(z.read(f"dualdiff_ad-{dualdiff.__version__}.dist-info/METADATA"))
    deps = _site_with(_dependency_closure(meta.get_all("Requires-Dist"), "plot"), tmp_path / "deps")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_env(), timeout=300)
    py = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    purelib = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    (Path(purelib) / "_dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
    install = subprocess.run(
        [py, "-m", "pip", "install", "--no-index", "--find-links", str(wheel.parent), "dualdiff-ad[plot]"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    assert "Successfully installed dualdiff-ad-" in install.stdout
    where = subprocess.run(
        [py, "-c", "import dualdiff, importlib.metadata as m; print(dualdiff.__file__, m.version('dualdiff-ad'))"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
    )
    assert where.stdout.split()[0].startswith(purelib) and where.stdout.split()[1] == dualdiff.__version__
    command = Path(py).parent / "dualdiff"
    demo = subprocess.run([command, "demo"], capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=300)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "v_{-1}" in demo.stdout and "reverse" in demo.stdout.lower()
    version = subprocess.run([command, "--version"], capture_output=True, text=True, env=_env())
    assert dualdiff.__version__ in version.stdout + version.stderr


@slow
def test_the_sdist_passes_its_own_tests_when_unpacked(built, tmp_path):
    sdist, _ = built
    with tarfile.open(sdist) as t:
        t.extractall(tmp_path, filter="data") if sys.version_info >= (3, 12) else t.extractall(tmp_path)
    unpacked = tmp_path / sdist.name.removesuffix(".tar.gz")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider", "--ignore=tests/test_notebooks.py"],
        capture_output=True,
        text=True,
        cwd=unpacked,
        env=_env(PYTHONPATH=str(unpacked)),
        timeout=1200,
    )
    tail = run.stdout[-3000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    assert re.search(r"\d+ passed", tail) and " failed" not in tail, tail
    assert (
        str(unpacked / "dualdiff")
        in subprocess.run(
            [sys.executable, "-c", "import dualdiff; print(dualdiff.__file__)"],
            capture_output=True,
            text=True,
            cwd=unpacked,
            env=_env(PYTHONPATH=str(unpacked)),
        ).stdout
    )
