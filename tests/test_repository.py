"""No file of the repository names a path of one particular machine.

Absolute paths under the top-level folders ``work``, ``root``, ``home``,
``tmp`` and the like work on one machine only: docs and scripts say ``$BENCH_VENV`` or use paths relative to
the repository. The files checked are those git tracks (or, in an unpacked
sdist, every file).
"""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MACHINE_PATH = re.compile(r"(?<![\w.~$}-])/(?:work|root|home|Users|opt|mnt|scratch|tmp)/[\w.-]+")
SKIP_SUFFIXES = {".png", ".jpg", ".gif", ".ico", ".whl", ".gz", ".zip"}


def repository_files():
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout.decode()
        files = [ROOT / p for p in out.split("\0") if p]
    except (OSError, subprocess.SubprocessError):
        skip = {".git", ".venv", "__pycache__", ".hypothesis", "build", "dist", ".cache", "site"}
        files = [p for p in ROOT.rglob("*") if not skip & set(p.relative_to(ROOT).parts)]
    return [p for p in files if p.is_file() and not p.is_symlink() and p.suffix not in SKIP_SUFFIXES]


def test_no_machine_specific_paths():
    offenders = []
    for path in repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for i, line in enumerate(text.splitlines(), 1):
            for m in MACHINE_PATH.finditer(line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {m.group(0)}")
    assert not offenders, "\n".join(offenders[:50])


def test_the_pattern_finds_what_it_should():
    samples = ["cd /" + "work/main", "/" + "root/.pyenv/x", "see /" + "home/me/x", "$BENCH_VENV/bin", "/" + "tmp/x"]
    hits = [bool(MACHINE_PATH.search(s)) for s in samples]
    assert hits == [True, True, True, False, True]
    assert not MACHINE_PATH.search("https://example.org/" + "home/page")  # a URL's path is not a machine's
