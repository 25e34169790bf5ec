"""The name of the code a session measured (``sessions[].code`` in a baseline entry): a digest of the
committed files apart from the baselines, so that two saves of one code can be paired."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pytest_causal_eval.environment.fingerprint import git_output

__all__ = ["code_identity"]


def code_identity(root: Path, baselines: Path) -> str:
    """A name for the code a session measured: a digest of the committed files of the checkout
    around ``root`` *apart from the baseline directory*, or "" when there is none (not a git
    checkout, or uncommitted changes outside the baselines: a dirty tree's code has no name, so its
    sessions are kept but never paired with another).

    The baseline files are left out because every save changes them and committing them makes a new
    commit of the same code; two saves with a baseline commit in between still measured one code.
    """
    top_text = git_output("rev-parse", "--show-toplevel", cwd=root)
    if not top_text:
        return ""
    top = Path(top_text).resolve()
    spec = ["--", "."]
    prefix = None
    if baselines.resolve().is_relative_to(top):  # else they live outside the checkout
        prefix = baselines.resolve().relative_to(top).as_posix() + "/"
        spec.append(f":(exclude){prefix}")
    status = git_output("status", "--porcelain", "--untracked-files=no", *spec, cwd=top, timeout=30)
    # one line a file: "<mode> <type> <object>\t<path>"
    tree = git_output("ls-tree", "-r", "--full-tree", "HEAD", cwd=top, timeout=30)
    if status is None or status or not tree:
        return ""
    kept = [
        line for line in tree.splitlines() if prefix is None or not line.split("\t", 1)[-1].startswith(prefix)
    ]
    return "tree:" + hashlib.sha256("\n".join(kept).encode()).hexdigest()[:16]
