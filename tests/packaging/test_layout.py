"""The built wheel installs everything under `doorwatch/`, nothing else at the top level."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_installs_only_the_doorwatch_package(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("doorwatch-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    top = {n.split("/", 1)[0] for n in names}
    assert top == {"doorwatch", next(t for t in top if t.endswith(".dist-info"))}
    for package in ("segments", "crypto", "protocol", "node", "cli"):
        assert f"doorwatch/{package}/__init__.py" in names
    # The web console's page, script and style ship with the package (no CDN).
    assets = ("index.html", "console.js", "console.css", "manage.html", "manage.js", "pages.js")
    for asset in (*assets, "notices.html", "notices.js"):
        assert f"doorwatch/node/console/{asset}" in names
    # tests, benchmarks and docs are not installed
    assert not any(
        n.startswith(("doorwatch/tests/", "doorwatch/bench/", "doorwatch/docs/")) for n in names
    )
    assert "doorwatch = doorwatch.cli:main" in entry_points
