"""Shared by the safety suites: run a command as a hostile or careless user would, then check that it refused
cleanly (exit 2, one line on stderr, no traceback, no "internal error") and left every input byte for byte."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

LRSCOPE = Path(sys.executable).with_name("lrscope")


def run_cli(*args, cwd=None, timeout: float = 600, env: dict | None = None, stdin=None) -> subprocess.CompletedProcess:
    """Run the installed ``lrscope`` console script as a user would."""
    full_env = dict(os.environ, **(env or {}))
    full_env.pop("LRSCOPE_DEBUG", None)
    return subprocess.run([str(LRSCOPE), *map(os.fsdecode, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=full_env, stdin=stdin if stdin is not None else subprocess.DEVNULL)


def run_main(*args, cwd=None) -> subprocess.CompletedProcess:
    """Run ``lrscope ARGS`` through lrscope.cli.main in this process (torch is imported once for the whole
    suite, not once a case); exit code, stdout and stderr as a subprocess would give them."""
    import contextlib
    import io

    from lrscope.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = [os.fsdecode(a) for a in args]
    with contextlib.ExitStack() as stack:
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            main(argv)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return subprocess.CompletedProcess(["lrscope", *argv], code, out.getvalue(), err.getvalue())


def fingerprint(*roots: str | os.PathLike) -> dict[str, str]:
    """{path: sha256} of every regular file under (or at) each root; symlinks are recorded by their target."""
    seen: dict[str, str] = {}
    for root in map(Path, roots):
        paths = [root] if not root.is_dir() or root.is_symlink() else sorted(root.rglob("*"))
        for path in paths:
            if path.is_symlink():
                seen[str(path)] = "link->" + os.readlink(path)
            elif path.is_file():
                seen[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir():
                seen[str(path)] = "dir"
    return seen


def assert_clean_refusal(result, *, expect: str | None = None, code: int = 2) -> str:
    """The one-line refusal every bad input must get; returns that line."""
    err = result.stderr
    assert result.returncode == code, f"exit {result.returncode}, not {code}; stderr: {err[-800:]}"
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err[-1500:]}"
    if expect is not None:
        assert expect.lower() in lines[0].lower(), f"{expect!r} not in {lines[0]!r}"
    return lines[0]


def refuses(*args, inputs=(), expect: str | None = None, timeout: float | None = None, cwd=None, env=None) -> str:
    """Run ``lrscope ARGS``; assert a clean exit-2 refusal and that every path in ``inputs`` is unchanged.

    In this process by default; in a subprocess when a ``timeout`` (a hang guard) or an ``env`` is given."""
    before = fingerprint(*inputs)
    if timeout is None and env is None:
        result = run_main(*args, cwd=cwd)
    else:
        result = run_cli(*args, timeout=timeout or 300, cwd=cwd, env=env)
    line = assert_clean_refusal(result, expect=expect)
    assert fingerprint(*inputs) == before, f"lrscope {' '.join(map(str, args))} changed its inputs"
    return line
