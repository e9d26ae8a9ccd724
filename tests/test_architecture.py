"""The package's layers, read from the code with ``ast``: every import (at module level or inside a function) points
down, siblings stay apart, only the command lines exit, and importing the package or its command lines does not
import MindSpore."""
import ast
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO

PACKAGE = os.path.join(REPO, "mindaudio")
# floor of each sub-package; modules directly in mindaudio/ are the core (floor 0)
FLOORS = {"data": 1, "models": 1, "prep": 2, "training": 2, "inference": 2, "serving": 3, "cli": 4}


def modules():
    """{dotted module name: path} of every module of the package."""
    found = {}
    for root, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                dotted = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                found[dotted[:-len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
    return found


def area(module):
    """The sub-package a module belongs to ("core" for modules directly in mindaudio/)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in FLOORS) else "core"


def floor(module):
    return FLOORS.get(area(module), 0)


def _under_main_guard(node, parents):
    """Whether ``node`` sits under ``if __name__ == "__main__":`` (a module run as a script may call its command)."""
    for parent in parents.get(node, ()):
        test = getattr(parent, "test", None)
        if isinstance(parent, ast.If) and isinstance(test, ast.Compare) and \
                isinstance(test.left, ast.Name) and test.left.id == "__name__":
            return True
    return False


def imports(path, known):
    """The package modules ``path`` imports (anywhere in it), as dotted names, with the line of each."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = parents.get(node, ()) + (node,)
    found = []
    for node in ast.walk(tree):
        if _under_main_guard(node, parents):
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("mindaudio")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mindaudio"):
            for a in node.names:                       # "from mindaudio.data import audio" imports a module
                sub = f"{node.module}.{a.name}"
                found.append((sub if sub in known else node.module, node.lineno))
    return found


def graph():
    known = modules()
    return {m: imports(p, known) for m, p in known.items()}


def test_every_import_points_down():
    wrong = []
    for module, targets in graph().items():
        if module == "mindaudio":                      # the facade: lazily re-exports the Recognizer
            continue
        for target, line in targets:
            same_area = area(target) == area(module)
            if floor(target) > floor(module) or (floor(target) == floor(module) and not same_area):
                wrong.append(f"{module}:{line} imports {target}")
    assert wrong == [], "imports that run up or sideways:\n" + "\n".join(wrong)


def test_no_import_cycles():
    g = {m: {t for t, _ in ts if t != m} for m, ts in graph().items()}
    state, cycles = {}, []

    def visit(m, path):
        state[m] = "open"
        for t in sorted(g.get(m, ())):
            if state.get(t) == "open":
                cycles.append(" → ".join(path[path.index(t):] + [t]) if t in path else f"{m} → {t}")
            elif t not in state:
                visit(t, path + [t])
        state[m] = "done"
    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_the_guarantees_the_layers_give():
    g = graph()
    library = [m for m in g if area(m) != "cli" and m != "mindaudio"]
    assert not [m for m in library for t, _ in g[m] if area(t) == "cli"], "library code imports the command lines"
    assert {m for m in g for t, _ in g[m] if area(t) == "serving"} <= {m for m in g if area(m) in ("cli", "serving")}
    # the data, features, text, metrics, decoding and geometry code is NumPy: it never imports MindSpore
    numpy_only = ["mindaudio.geometry", "mindaudio.text", "mindaudio.metrics", "mindaudio.decoding", "mindaudio.lm",
                  "mindaudio.errors", "mindaudio.fileio", "mindaudio.config", "mindaudio.data.audio",
                  "mindaudio.data.features", "mindaudio.data.manifest", "mindaudio.data.augment",
                  "mindaudio.models.cost", "mindaudio.training.launch"]
    for module in numpy_only:
        tree = ast.parse(open(modules()[module], encoding="utf-8").read())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names] + \
            [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not [n for n in names if n.startswith("mindspore")] or module == "mindaudio.training.launch" and \
            names.count("mindspore.communication") == 1, module    # launch: only the scheduler's init()


def test_only_the_command_lines_exit():
    exits = []
    for module, path in modules().items():
        if area(module) == "cli":
            continue
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            call = node.func if isinstance(node, ast.Call) else None
            if isinstance(call, ast.Attribute) and call.attr == "exit" and getattr(call.value, "id", "") == "sys":
                exits.append(f"{module}:{node.lineno} sys.exit")
            if isinstance(node, ast.Raise) and "SystemExit" in ast.unparse(node.exc or ast.Constant(None)):
                exits.append(f"{module}:{node.lineno} raise SystemExit")
    assert exits == []


def test_one_home_for_each_shared_fact():
    """One error module, one audio loader, one atomic write, the spectrogram size from geometry only."""
    sources = {m: open(p, encoding="utf-8").read() for m, p in modules().items()}
    error_classes = {m for m, s in sources.items() for n in ast.walk(ast.parse(s))
                     if isinstance(n, ast.ClassDef) and n.name.endswith("Error")}
    assert error_classes == {"mindaudio.errors"}
    readers = {m for m, s in sources.items() if "soundfile.read(" in s or "sf.read(" in s or "SoundFile(" in s}
    assert readers == {"mindaudio.data.audio"}
    assert {m for m, s in sources.items() if "os.replace(" in s} == {"mindaudio.fileio", "mindaudio.prep.librispeech"}
    assert {m for m, s in sources.items() if "// 2 + 1" in s} == {"mindaudio.geometry"}      # F = n_fft // 2 + 1


@pytest.mark.parametrize("module", ["mindaudio", "mindaudio.cli", "mindaudio.cli.train", "mindaudio.config",
                                    "mindaudio.data.dataset", "mindaudio.prep.librispeech"])
def test_importing_does_not_import_mindspore(module):
    """``import mindaudio`` and the command lines' shared code stay light; train.py must set up the launcher before
    MindSpore is imported."""
    code = f"import sys, {module}; sys.exit('mindspore' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
