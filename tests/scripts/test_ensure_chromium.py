"""scripts/ensure-chromium, which scripts/test and .ci/run run before anything else: on
a machine without Chromium it installs Debian's package when it can, or stops with one
line that says what to install. Run with a PATH of a temporary folder holding only the
commands each case gives it (fake id, sudo, apt-get), so this machine's Chromium is
never seen."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ensure-chromium"
BASH = shutil.which("bash") or "/bin/bash"
CHMOD = shutil.which("chmod") or "/bin/chmod"


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!{BASH}\n{body}\n")
    path.chmod(0o755)


def _run(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [BASH, str(SCRIPT)],
        env={"PATH": str(folder), "HOME": str(folder), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


def test_without_chromium_or_a_way_to_install_it_one_line_says_what_to_install(
    bin_dir: Path,
) -> None:
    _tool(bin_dir, "id", "echo 1000")  # not root, and no sudo, no apt-get
    result = _run(bin_dir)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "apt-get install chromium" in lines[0]
    assert "CADENCE_SKIP_BROWSER=1" in lines[0]
    assert result.stdout == ""


def test_root_with_apt_get_installs_chromium(bin_dir: Path, tmp_path: Path) -> None:
    calls = tmp_path / "apt-calls"
    _tool(bin_dir, "id", "echo 0")
    _tool(
        bin_dir,
        "apt-get",
        f'echo "$*" >> {calls}\n'
        f'if [ "$1" = install ]; then printf "#!{BASH}\\n" > {bin_dir}/chromium; '
        f"{CHMOD} +x {bin_dir}/chromium; fi",
    )
    result = _run(bin_dir)
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == ["install -y --no-install-recommends chromium"]
    assert (bin_dir / "chromium").exists()


def test_a_user_with_passwordless_sudo_installs_through_it(bin_dir: Path, tmp_path: Path) -> None:
    calls = tmp_path / "sudo-calls"
    _tool(bin_dir, "id", "echo 1000")
    _tool(bin_dir, "sudo", f'echo "$*" >> {calls}\n[ "$1" = -n ] && shift\n"$@"')
    _tool(
        bin_dir,
        "apt-get",
        f'if [ "$1" = install ]; then printf "#!{BASH}\\n" > {bin_dir}/chromium; '
        f"{CHMOD} +x {bin_dir}/chromium; fi",
    )
    result = _run(bin_dir)
    assert result.returncode == 0, result.stderr
    assert "-n apt-get install -y --no-install-recommends chromium" in calls.read_text()


def test_a_failed_install_stops_with_the_one_line(bin_dir: Path) -> None:
    _tool(bin_dir, "id", "echo 0")
    _tool(bin_dir, "apt-get", "exit 100")  # no network, no such package
    result = _run(bin_dir)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "apt-get install chromium" in result.stderr


def test_chromium_present_or_named_is_enough(bin_dir: Path, tmp_path: Path) -> None:
    _tool(bin_dir, "chromium", "")
    assert _run(bin_dir).returncode == 0
    elsewhere = tmp_path / "my-chromium"
    elsewhere.write_text("")
    elsewhere.chmod(0o755)
    assert _run(bin_dir, CADENCE_CHROMIUM=str(elsewhere)).returncode == 0
    missing = _run(bin_dir, CADENCE_CHROMIUM=str(tmp_path / "nope"))
    assert missing.returncode == 1 and "CADENCE_CHROMIUM" in missing.stderr


def test_scripts_test_checks_chromium_before_anything_else() -> None:
    """The README's test command: the check comes before the venv, ruff or pytest, and
    the opt-out deselects the browser tests by marker, saying so."""
    text = (ROOT / "scripts" / "test").read_text()
    assert text.index("ensure-chromium") < text.index("bootstrap") < text.index("ruff check")
    assert "not browser" in text and "CADENCE_SKIP_BROWSER" in text
    assert "ensure-chromium" in (ROOT / ".ci" / "run").read_text()
    assert os.access(SCRIPT, os.X_OK)
