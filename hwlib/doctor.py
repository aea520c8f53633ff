"""Checks that the tools `make report` needs are installed, each with the command that fixes it.

`python -m hwlib.doctor` checks the Jupyter kernel hw1-lab and the papermill and
nbconvert commands of the virtual environment, and with --pdf the tools that
`make pdf` uses. It prints one line per problem and exits with status 1 when
there is one, so the Makefile can run it before executing a notebook. It
imports neither torch nor hwlib's other modules, so it starts in well under a
second.
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

KERNEL = "hw1-lab"
VENV_BIN = Path(sys.executable).parent
REINSTALL = "`.venv/bin/pip install -r requirements.txt` (or `rm .venv/.installed; make venv`)"
# command -> what provides it
VENV_COMMANDS = {"papermill": "papermill", "jupyter-nbconvert": "nbconvert"}
PDF_TOOLS_HINT = "sudo apt-get install chromium poppler-utils"


def _shown(path: Path) -> str:
    """Return `path` relative to the working folder when it lies inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def check_kernel(name: str = KERNEL) -> str | None:
    """Return a message when Jupyter kernel `name` is not registered, else None."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        return f"jupyter_client is not installed in {_shown(VENV_BIN.parent)}; run {REINSTALL}"
    if name in KernelSpecManager().find_kernel_specs():
        return None
    python = _shown(VENV_BIN / "python")
    return (f"Jupyter kernel '{name}' not found; run `{python} -m ipykernel install "
            f"--sys-prefix --name {name}` (or `rm .venv/.installed; make venv`)")


def check_command(command: str, folder: Path = VENV_BIN) -> str | None:
    """Return a message when `command` is not an executable file in `folder`, else None."""
    path = folder / command
    if path.is_file() and os.access(path, os.X_OK):
        return None
    package = VENV_COMMANDS.get(command, command)
    return f"{command} not found in {_shown(folder)} (it comes with {package}); run {REINSTALL}"


def check_pdf_tools(commands: tuple[str, ...] = ("chromium", "pdfunite")) -> list[str]:
    """Return a message for each PDF tool of `make pdf` missing from the PATH."""
    aliases = {"chromium": ("chromium", "chromium-browser")}
    missing = [c for c in commands if not any(shutil.which(a) for a in aliases.get(c, (c,)))]
    return [f"{c} not found on the PATH; `make pdf` needs it: run `{PDF_TOOLS_HINT}`"
            for c in missing]


def problems(kernel: str = KERNEL, pdf: bool = False) -> list[str]:
    """Return one message per missing tool; an empty list means everything is in place."""
    found = [check_kernel(kernel), *(check_command(c) for c in VENV_COMMANDS)]
    if pdf:
        found += check_pdf_tools()
    return [message for message in found if message]


def main(argv: list[str] | None = None) -> None:
    """Print each missing tool with its fix and exit 1 when there is one."""
    parser = argparse.ArgumentParser(
        description="Check the tools that run and render the notebooks.")
    parser.add_argument("--kernel", default=KERNEL, help=f"Jupyter kernel name (default: {KERNEL})")
    parser.add_argument("--pdf", action="store_true", help="also check the tools of `make pdf`")
    args = parser.parse_args(argv)

    found = problems(args.kernel, args.pdf)
    for message in found:
        print(f"error: {message}", file=sys.stderr)
    if found:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
