"""The brief's CI scan, applied to this project: the operator package runs no dynamic code, spawns
no process, and writes no file. Each exception must be listed here, with why it is justified."""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "techsapo_operator"

DYNAMIC_EXECUTION = {"eval", "exec", "compile", "__import__", "breakpoint"}
PROCESS_MODULES = {"subprocess", "pty", "multiprocessing"}
PROCESS_CALLS = {
    "system",
    "popen",
    "fork",
    "forkpty",
    "execv",
    "execve",
    "execvp",
    "execl",
    "execlp",
    "spawnv",
    "spawnl",
    "posix_spawn",
    "create_subprocess_exec",
    "create_subprocess_shell",
}
# Methods that only ever write files, on any object (pathlib.Path's among them) ...
FILE_WRITES = {
    "write_text",
    "write_bytes",
    "unlink",
    "rmdir",
    "touch",
    "symlink_to",
    "mkdir",
    "makedirs",
    "chmod",
    "chown",
    "rmtree",
    "copyfile",
    "copytree",
}
# ... and names that write files only on these modules (str.replace and list.remove do not).
MODULE_FILE_WRITES = {"os": {"remove", "rename", "replace", "link", "truncate"}, "shutil": {"copy", "move"}}

# (module, name of the call) -> why it is there. Nothing yet.
ALLOWED: dict[tuple[str, str], str] = {}


def _call_name(node: ast.Call) -> str:
    function = node.func
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute):
        return function.attr
    return ""


def _receiver(node: ast.Call) -> str:
    function = node.func
    if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name):
        return function.value.id
    return ""


def _opens_for_writing(node: ast.Call) -> bool:
    mode = (
        node.args[1]
        if len(node.args) > 1
        else next((k.value for k in node.keywords if k.arg == "mode"), None)
    )
    if mode is None:
        return False
    if not isinstance(mode, ast.Constant) or not isinstance(mode.value, str):
        return True  # a computed mode could be anything
    return bool(set(mode.value) & set("wax+"))


def findings(source: str, module: str) -> list[str]:
    """What a module does that a self-modifying system would: one line per occurrence."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found += [
                f"{module}:{node.lineno}: imports {n}" for n in names if n.split(".")[0] in PROCESS_MODULES
            ]
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if (module, name) in ALLOWED:
            continue
        bare = isinstance(node.func, ast.Name) or _receiver(node) == "builtins"
        if name in DYNAMIC_EXECUTION and bare:
            found.append(f"{module}:{node.lineno}: dynamic execution {name}()")
        elif name == "import_module" and not (node.args and isinstance(node.args[0], ast.Constant)):
            found.append(f"{module}:{node.lineno}: import of a computed name")
        elif name in PROCESS_CALLS:
            found.append(f"{module}:{node.lineno}: starts a process with {name}()")
        elif (
            name in FILE_WRITES
            or name in MODULE_FILE_WRITES.get(_receiver(node), ())
            or (name == "open" and _opens_for_writing(node))
        ):
            found.append(f"{module}:{node.lineno}: writes files with {name}()")
    return found


def test_the_operator_package_never_modifies_itself_or_runs_dynamic_code() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        problems += findings(path.read_text(), str(path.relative_to(PACKAGE.parent)))
    assert problems == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("eval(text)", "dynamic execution eval()"),
        ("exec(code)", "dynamic execution exec()"),
        ("compile(src, 'x', 'exec')", "dynamic execution compile()"),
        ("__import__(name)", "dynamic execution __import__()"),
        ("import importlib\nimportlib.import_module(name)", "import of a computed name"),
        ("import subprocess", "imports subprocess"),
        ("import os\nos.system('ls')", "starts a process with system()"),
        ("open(__file__, 'w')", "writes files with open()"),
        ("open(path, mode=chosen)", "writes files with open()"),
        ("pathlib.Path(__file__).write_text('x')", "writes files with write_text()"),
        (
            "import asyncio\nasyncio.create_subprocess_exec('sh')",
            "starts a process with create_subprocess_exec()",
        ),
        ("import os\nos.replace(a, b)", "writes files with replace()"),
        ("import builtins\nbuiltins.exec(code)", "dynamic execution exec()"),
    ],
)
def test_the_scan_finds_each_kind_of_self_modification(source: str, expected: str) -> None:
    assert any(expected in line for line in findings(source, "sample.py")), findings(source, "sample.py")


def test_the_scan_leaves_reading_and_look_alikes_alone() -> None:
    source = "\n".join(
        [
            "open(path, encoding='utf-8').read()",
            "pathlib.Path(p).read_text()",
            "re.compile('x')",
            "'a'.replace('a', 'b')",
            "items.remove(item)",
        ]
    )
    assert findings(source, "sample.py") == []
