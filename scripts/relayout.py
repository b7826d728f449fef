"""One-off: split ``helpers/`` into the bench (private modules behind a small front door) and
per-lesson support in ``helpers/lessons/``, and rewrite every reference to the moved modules.

Run from the repository root, on any version of the tree; a second run changes nothing:

    python scripts/relayout.py            # move, rewrite, then ruff (imports, format)
    python scripts/relayout.py --dry-run  # only say what it would do

1. ``git mv`` each module listed in ``MOVES`` (entries whose source is gone are skipped) and
   each lesson module's test into ``tests/lessons/``; modules found in ``helpers/`` that the
   table does not list are reported, so the table can be extended.
2. Rewrites references in code, notebooks (code and markdown cells, JSON kept as nbformat
   writes it), docs, README, pyproject and the Makefile: ``helpers.x`` dotted paths (imports,
   ``monkeypatch`` strings, ``"helpers.worker_app:app"``), ``helpers/x.py`` paths,
   ``from helpers import x`` module imports, and names that left the front door.
   Notebooks import bench names from ``helpers`` and lesson support from
   ``helpers.lessons.lNN_x``.
3. Writes the front door ``helpers/__init__.py`` from ``FRONT_DOOR`` (each name checked
   against the module that defines it) and ``helpers/lessons/__init__.py``.

This file is deleted once the layout has landed; it imports nothing from the lab.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# --- the tables ------------------------------------------------------------------------
# old module (helpers/<old>.py) → new module, dotted, relative to ``helpers``.
MOVES: dict[str, str] = {
    # the bench: serve, fire, record, draw — private behind helpers/__init__.py
    "server": "_server",
    "server_registry": "_server_registry",
    "recording_app": "_recording_app",
    "stoppable": "_stoppable",
    "tracing": "_tracing",
    "probes": "_probes",
    "load": "_load",
    "transport": "_transport",
    "collector": "_collector",
    "open_files": "_open_files",
    "run": "_run",
    "stats": "_stats",
    "config": "_config",
    "plots": "_plots",
    "bars": "_bars",
    "timelines": "_timelines",
    "thread_lanes": "_thread_lanes",
    "trace_export": "_trace_export",
    "cpu_account": "_cpu_account",
    "lag_panel": "_lag_panel",
    "pool_panel": "_pool_panel",
    # per lesson: named after the lesson that uses it
    "kernel": "lessons.l00_kernel",
    "interleave": "lessons.l01_interleave",
    "capacity": "lessons.l02_capacity",  # lesson 01 also borrows per_request_cost
    "blocking": "lessons.l03_blocking",  # lesson 06 also borrows make_slow_database
    "cpu": "lessons.l04_cpu",  # lessons 09 and 11 also use its calibrated job and core count
    "services": "lessons.l05_services",
    "db_pool": "lessons.l06_db_pool",
    "db_threads": "lessons.l06_db_threads",
    "fanout": "lessons.l08_fanout",
    "scaling": "lessons.l09_scaling",
    "workers": "lessons.l09_workers",
    "worker_app": "lessons.l09_worker_app",  # uvicorn imports it by its dotted path
    "planning": "lessons.l09_planning",
    "mystery": "lessons.l10_mystery",
    "claims": "lessons.l11_claims",
    "claim_checks": "lessons.l11_claim_checks",
}

# Modules that stay where they are, public.
KEEP: dict[str, str] = {
    "__init__": "the front door",
    "apps": "demo endpoints several lessons share; process pools import its jobs by path",
    "doctor": "python -m helpers.doctor, run by attendees",
    "playground": "notebooks/playground.ipynb",
}

# The front door: name → the module that defines it (after the move). Core first, then the
# bench tools a few lessons reach for.
FRONT_DOOR: dict[str, str] = {
    "serve": "_server",
    "Server": "_server",
    "stop_all": "_server",
    "fire": "_load",
    "Run": "_run",
    "compare": "_plots",
    "plot_timeline": "_plots",
    "summary_frame": "_plots",
    "sized": "_config",
    "fast_mode": "_config",
    # closer looks and tools some lessons use
    "plot_spans": "_timelines",
    "plot_request": "_timelines",
    "ms_after": "_timelines",
    "plot_thread_lanes": "_thread_lanes",
    "peak_overlap": "_stats",
    "count_waves": "_stats",
}
CORE_COUNT = 10  # the first names of FRONT_DOOR; the rest are listed apart in the docstring

# Today's front door (name → old module), used when a tree's helpers/__init__.py cannot be
# read; names found in the tree's own ``_HOMES`` table take precedence.
OLD_FRONT_DOOR: dict[str, str] = {
    "LabFigure": "plots",
    "Run": "run",
    "Server": "server",
    "StepLog": "interleave",
    "capture_slow_callbacks": "blocking",
    "compare": "plots",
    "count_primes_timed": "cpu",
    "cpu_table": "cpu",
    "fast_mode": "config",
    "fire": "load",
    "loop_stalls": "blocking",
    "loop_switches": "interleave",
    "make_slow_database": "blocking",
    "per_request_cost": "capacity",
    "plot_cpu_table": "cpu",
    "plot_latencies": "capacity",
    "plot_steps": "interleave",
    "plot_timeline": "plots",
    "plot_wait_vs_run": "capacity",
    "serve": "server",
    "sized": "config",
    "stop_all": "server",
    "summary_frame": "plots",
    "thread_rounds": "capacity",
    "throughput": "capacity",
    "usable_cores": "cpu",
    "warm_process_pool": "cpu",
    "wave_sizes": "capacity",
    "work_frame": "cpu",
}

LINE_LENGTH = 100
PKG = "helpers"
SELF = (Path("scripts/relayout.py"), Path("tests/test_relayout.py"))  # their tables name old paths


# --- small helpers ----------------------------------------------------------------------
def new_path(new: str) -> Path:
    """``lessons.l04_cpu`` → ``helpers/lessons/l04_cpu.py``."""
    return Path(PKG, *new.split(".")).with_suffix(".py")


def is_lesson(new: str) -> bool:
    return new.startswith("lessons.")


def test_move(old: str, new: str) -> tuple[Path, Path] | None:
    """Tests of a lesson module move to ``tests/lessons/test_lNN_x.py``; bench tests keep
    their name (``tests/test_server.py`` tests ``helpers/_server.py``)."""
    if not is_lesson(new):
        return None
    leaf = new.split(".")[-1]
    return Path("tests", f"test_{old}.py"), Path("tests", "lessons", f"test_{leaf}.py")


def resolve(module: str) -> str:
    """An old or new dotted module name → its new full name (``helpers.cpu`` →
    ``helpers.lessons.l04_cpu``); anything else unchanged."""
    if module.startswith(PKG + "."):
        rest = module[len(PKG) + 1 :]
        if rest in MOVES:
            return f"{PKG}.{MOVES[rest]}"
    return module


def is_private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split(".")[1:])


@dataclass
class Report:
    moved: list[str] = field(default_factory=list)
    tests_moved: list[str] = field(default_factory=list)
    rewritten: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


# --- 1. moves ---------------------------------------------------------------------------
def in_git() -> bool:
    done = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], capture_output=True)
    return done.returncode == 0


def tracked(path: Path) -> bool:
    done = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], capture_output=True)
    return done.returncode == 0


def move(src: Path, dst: Path, dry: bool, report: Report) -> bool:
    if not src.exists():
        return False
    if dst.exists():
        report.warn(f"both {src} and {dst} exist: not moved, merge them by hand")
        return False
    if not dry:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if in_git() and tracked(src):
            subprocess.run(["git", "mv", str(src), str(dst)], check=True)
        else:
            shutil.move(str(src), str(dst))
    return True


def do_moves(dry: bool, report: Report) -> None:
    for old, new in MOVES.items():
        if move(Path(PKG, f"{old}.py"), new_path(new), dry, report):
            report.moved.append(f"helpers/{old}.py → {new_path(new)}")
        pair = test_move(old, new)
        if pair and move(*pair, dry, report):
            report.tests_moved.append(f"{pair[0]} → {pair[1]}")
    known = set(MOVES) | set(KEEP) | {new for new in MOVES.values() if "." not in new}
    for path in sorted(Path(PKG).glob("*.py")):
        if path.stem not in known and not path.stem.startswith("_"):  # _x: already bench
            report.warn(f"helpers/{path.name} is not in MOVES or KEEP: add it to the tables")
    lessons = {new.split(".")[-1] for new in MOVES.values() if is_lesson(new)}
    for path in sorted(Path(PKG, "lessons").glob("*.py")):
        named = re.fullmatch(r"l\d\d_\w+", path.stem)
        if path.stem != "__init__" and path.stem not in lessons and not named:
            report.warn(f"{path} is not named after a lesson (lNN_topic.py)")


# --- which module defines which name ------------------------------------------------------
def top_level_names(path: Path) -> set[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, OSError):
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def definitions() -> dict[str, list[str]]:
    """Top-level name → the modules (new dotted names) that define it."""
    found: dict[str, list[str]] = {}
    for path in sorted(Path(PKG).rglob("*.py")):
        if path.name == "__init__.py":
            continue
        module = resolve(".".join(path.with_suffix("").parts))  # new name, also in a dry run
        for name in top_level_names(path):
            found.setdefault(name, []).append(module)
    return found


def home_of(name: str, hint: str | None, defs: dict[str, list[str]]) -> str | None:
    """Where ``name`` lives now: the hinted module when it still defines it, else the one
    module that does (the bench preferred over a lesson)."""
    where = defs.get(name, [])
    if hint and hint in where:
        return hint
    if not where:
        return None
    bench = [m for m in where if ".lessons." not in m]
    return (bench or where)[0]


def old_front_door() -> dict[str, str]:
    """name → full module name, from the tree's helpers/__init__.py ``_HOMES`` table."""
    homes = {name: f"{PKG}.{old}" for name, old in OLD_FRONT_DOOR.items()}
    init = Path(PKG, "__init__.py")
    if init.exists():
        for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "_HOMES" for t in node.targets)
                and isinstance(node.value, ast.Dict)
            ):
                for key, value in zip(node.value.keys, node.value.values):
                    if isinstance(key, ast.Constant) and isinstance(value, ast.Constant):
                        homes[str(key.value)] = str(value.value)
    return homes


# --- 2. rewriting -------------------------------------------------------------------------
OLD = "|".join(sorted(map(re.escape, MOVES), key=len, reverse=True))
DOTTED = re.compile(rf"(?<![\w.]){PKG}\.({OLD})(?!\w)")
SLASHED = re.compile(rf"(?<![\w./-]){PKG}/({OLD})\.py(?!\w)")
LESSON_TESTS = {old: pair for old, new in MOVES.items() if (pair := test_move(old, new))}
TEST_OLD = "|".join(sorted(map(re.escape, LESSON_TESTS), key=len, reverse=True))
TEST_DOTTED = re.compile(rf"(?<![\w.])tests\.test_({TEST_OLD})(?!\w)")
TEST_SLASHED = re.compile(rf"(?<![\w./-])tests/test_({TEST_OLD})\.py(?!\w)")
FROM_IMPORT = re.compile(
    rf"^(?P<indent>[ \t]*)from[ \t]+(?P<module>{PKG}(?:\.[\w.]+)?)[ \t]+import[ \t]+"
    r"(?P<names>\([^)]*\)|[^\n#]*?)(?P<comment>[ \t]*#[^\n]*)?$",
    re.M,
)


def rewrite_paths(text: str) -> str:
    text = DOTTED.sub(lambda m: f"{PKG}.{MOVES[m.group(1)]}", text)
    text = SLASHED.sub(lambda m: str(new_path(MOVES[m.group(1)]).as_posix()), text)
    text = TEST_DOTTED.sub(
        lambda m: ".".join(LESSON_TESTS[m.group(1)][1].with_suffix("").parts), text
    )
    return TEST_SLASHED.sub(lambda m: LESSON_TESTS[m.group(1)][1].as_posix(), text)


@dataclass
class Entry:
    target: str  # full module name the name is imported from
    name: str
    alias: str | None

    def text(self) -> str:
        return self.name if self.alias is None else f"{self.name} as {self.alias}"


@dataclass
class Statement:
    start: int
    end: int
    indent: str
    module: str
    comment: str
    original: list[Entry]
    entries: list[Entry] = field(default_factory=list)


def name_key(entry: Entry) -> tuple[int, str]:
    """isort's order-by-type: CONSTANTS, then Classes, then functions and modules."""
    name = entry.name
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name


def render(indent: str, module: str, entries: list[Entry], parenthesised: bool) -> str:
    names = [e.text() for e in sorted(entries, key=name_key)]
    one = f"{indent}from {module} import {', '.join(names)}"
    if len(one) <= LINE_LENGTH and not (parenthesised and len(names) > 1):
        return one
    inner = "".join(f"{indent}    {n},\n" for n in names)
    return f"{indent}from {module} import (\n{inner}{indent})"


class Rewriter:
    def __init__(
        self, defs: dict[str, list[str]], old_homes: dict[str, str], front: dict[str, str]
    ) -> None:
        self.defs = defs
        self.old_homes = old_homes
        self.front = front  # name → module, as checked against the tree
        self.submodules = {p.stem for p in Path(PKG).glob("*.py")} | {
            p.name for p in Path(PKG).iterdir() if p.is_dir() and (p / "__init__.py").exists()
        }

    def place(
        self, module: str, name: str, alias: str | None, notebook: bool, where: str, report: Report
    ) -> Entry:
        """Where ``from module import name`` must import from after the move."""
        target = resolve(module)
        if module == PKG:
            if name in MOVES:  # a module imported from the package: keep its local name
                new = MOVES[name]
                parent, _, leaf = f"{PKG}.{new}".rpartition(".")
                return Entry(parent, leaf, alias or name)
            if name in self.front or name in self.submodules:
                return Entry(PKG, name, alias)
            hint = self.old_homes.get(name)
            home = home_of(name, resolve(hint) if hint else None, self.defs)
            if home is None:
                report.warn(f"{where}: `{name}` is not defined in helpers; left as it is")
                return Entry(PKG, name, alias)
            target = home
        elif notebook and is_private(target) and name in self.front:
            return Entry(PKG, name, alias)
        if notebook and is_private(target):
            report.warn(f"{where}: imports `{name}` from private {target}: add it to FRONT_DOOR")
        return Entry(target, name, alias)

    def imports(self, text: str, notebook: bool, where: str, report: Report) -> str:
        statements: list[Statement] = []
        for m in FROM_IMPORT.finditer(text):
            raw = m.group("names").strip()
            if raw.startswith("("):
                raw = re.sub(r"#[^\n]*", "", raw[1:-1])
            original = []
            for part in (p.strip() for p in raw.split(",")):
                if not part:
                    continue
                name, _, alias = (w.strip() for w in part.partition(" as "))
                original.append(Entry(m.group("module"), name, alias or None))
            stmt = Statement(
                m.start(),
                m.end(),
                m.group("indent"),
                m.group("module"),
                m.group("comment") or "",
                original,
            )
            stmt.entries = [
                self.place(e.target, e.name, e.alias, notebook, where, report) for e in original
            ]
            statements.append(stmt)
        # In a notebook cell, a name that leaves its module joins a top-level import from its
        # new module when there is one. Python files are left to ruff's import sorting, since
        # an import inside a string (code sent to a kernel) must not join the file's own.
        if notebook:
            self.merge(statements)
        out, last = [], 0
        for stmt in statements:
            out.append(text[last : stmt.start])
            out.append(self.render_statement(text, stmt))
            last = stmt.end
            if not stmt.entries and text[last : last + 1] == "\n":
                last += 1  # the statement went away: so does its line
        out.append(text[last:])
        return "".join(out)

    @staticmethod
    def merge(statements: list[Statement]) -> None:
        hosts: dict[str, Statement] = {}
        for stmt in statements:
            if not stmt.indent:
                hosts.setdefault(resolve(stmt.module), stmt)
        for stmt in statements:
            if stmt.indent:
                continue
            keep = []
            for entry in stmt.entries:
                if entry.target == resolve(stmt.module):
                    keep.append(entry)
                    continue
                host = hosts.setdefault(entry.target, stmt)
                (keep if host is stmt else host.entries).append(entry)
            stmt.entries = keep

    @staticmethod
    def render_statement(text: str, stmt: Statement) -> str:
        same_names = [(e.name, e.alias) for e in stmt.entries] == [
            (e.name, e.alias) for e in stmt.original
        ]
        if same_names and all(e.target == resolve(stmt.module) for e in stmt.entries):
            return text[stmt.start : stmt.end]  # only the module path changes (done later)
        if not stmt.entries:
            return ""
        parenthesised = "(" in text[stmt.start : stmt.end]
        groups: dict[str, list[Entry]] = {}
        for entry in stmt.entries:
            groups.setdefault(entry.target, []).append(entry)
        lines = [
            render(stmt.indent, module, entries, parenthesised)
            for module, entries in sorted(groups.items())
        ]
        lines[0] += stmt.comment
        return "\n".join(lines)

    def python(self, text: str, notebook: bool, where: str, report: Report) -> str:
        text = rewrite_paths(self.imports(text, notebook, where, report))
        return text if notebook else reflow(text)


# Longer module paths push some docstring and comment lines past the limit: those lines
# (and only those) are re-wrapped, the overflow joining the next line of the paragraph.
LONGER = (f"{PKG}.lessons", f"{PKG}/lessons", f"{PKG}._", f"{PKG}/_", "tests/lessons")


def docstring_lines(text: str) -> set[int]:
    """0-based indexes of lines inside string statements (docstrings)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    found: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            and node.end_lineno is not None
        ):
            found.update(range(node.lineno - 1, node.end_lineno))
    return found


def continues(line: str, prefix: str) -> bool:
    """Is ``line`` more of the same paragraph, at the same indentation?"""
    if not line.startswith(prefix):
        return False
    body = line[len(prefix) :]
    return (
        bool(body.strip())
        and not body.startswith((" ", "-", "*", ">>>", '"""', "``"))
        and not (re.match(r"\d+\. ", body))
    )


def reflow(text: str) -> str:
    lines = text.split("\n")
    docs = docstring_lines(text)
    carried: set[int] = set()  # lines that took words from the line above
    i = 0
    while i < len(lines):
        line = lines[i]
        comment = line.lstrip().startswith("#")
        ours = any(mark in line for mark in LONGER) or i in carried
        if len(line) > LINE_LENGTH and ours and (comment or i in docs):
            indent = line[: len(line) - len(line.lstrip())]
            prefix = indent + ("# " if comment else "")
            cut = line.rfind(" ", len(prefix), LINE_LENGTH + 1)
            if cut > len(prefix):
                head, rest = line[:cut], line[cut + 1 :]
                following = lines[i + 1] if i + 1 < len(lines) else None
                same_block = comment or (i + 1 in docs and '"""' not in rest)
                if following is not None and same_block and continues(following, prefix):
                    lines[i + 1] = f"{prefix}{rest} {following[len(prefix) :]}"
                else:
                    lines.insert(i + 1, prefix + rest)
                    docs = {d if d <= i else d + 1 for d in docs} | (
                        {i + 1} if i in docs else set()
                    )
                    carried = {c if c <= i else c + 1 for c in carried}
                lines[i] = head
                carried.add(i + 1)
        i += 1
    return "\n".join(lines)


def py_files() -> Iterator[Path]:
    for top in (PKG, "tests", "benchmarks", "scripts", "notebooks"):
        for path in sorted(Path(top).rglob("*.py")):
            if path not in SELF and ".ipynb_checkpoints" not in path.parts:
                yield path


def text_files() -> Iterator[Path]:
    for pattern in (
        "docs/**/*.md",
        "*.md",
        "pyproject.toml",
        "Makefile",
        "scripts/*.sh",
        "environment.yml",
        ".ci/*",
    ):
        for path in sorted(Path().glob(pattern)):
            if path.is_file():
                yield path


def write_if_changed(path: Path, new: str, old: str, dry: bool, report: Report) -> bool:
    if new == old:
        return False
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    report.rewritten[str(path)] = sum(
        line[:1] in "+-" and not line.startswith(("+++", "---")) for line in diff
    )
    if not dry:
        path.write_text(new, encoding="utf-8")
    return True


def rewrite_notebook(path: Path, rw: Rewriter, dry: bool, report: Report) -> bool:
    text = path.read_text(encoding="utf-8")
    book = json.loads(text)
    for index, cell in enumerate(book.get("cells", [])):
        source = "".join(cell.get("source", []))
        if cell.get("cell_type") == "code":
            new = rw.python(source, True, f"{path} cell {cell.get('id', index)}", report)
        else:
            new = rewrite_paths(source)
        if new != source:
            cell["source"] = new.splitlines(keepends=True)
    # nbformat's layout: one-space indent, keys in file order, UTF-8 as is, final newline
    return write_if_changed(
        path, json.dumps(book, indent=1, ensure_ascii=False) + "\n", text, dry, report
    )


def rewrite_pyproject(text: str) -> str:
    """setuptools lists packages explicitly: the lessons subpackage must be in its list."""
    section = re.search(r"^\[tool\.setuptools\]\n(?:(?!\[).*\n)*", text, re.M)
    if section is None:
        return text
    body = section.group(0)
    listed = re.search(r"^packages = \[(.*)\]$", body, re.M)
    if listed is None or f'"{PKG}.lessons"' in listed.group(1):
        return text
    new = body.replace(listed.group(0), f'packages = [{listed.group(1)}, "{PKG}.lessons"]')
    return text[: section.start()] + new + text[section.end() :]


# --- 3. the front door ----------------------------------------------------------------------
LESSONS_INIT = '''"""Support for one lesson each, named after it: ``l04_cpu.py`` serves lesson 04.

What lives here is what a lesson needs but is not its subject: a figure only that lesson
draws, a job a process pool must import by module path, a recorder. A lesson module imports
the bench (``helpers`` and its private modules), never another lesson's module
(``tests/test_init.py`` checks both directions).
"""
'''

INIT_TEMPLATE = '''"""\
FastAPI Concurrency Lab: serve an app in the kernel, fire bursts, see what happened.

    from helpers import serve, fire
    server = serve(app)
    run = await fire(server, "/path", n=100)
    run.summary(); run.plot()

{core}
{extra}

The modules behind these names are private (``helpers/_server.py`` …). Support for a single
lesson lives in ``helpers.lessons``, named after its lesson (``helpers.lessons.l04_cpu``);
``helpers.apps`` holds the demo endpoints several lessons share, ``helpers.doctor`` and
``helpers.playground`` are the workshop tools.

Names are imported on first use (PEP 562), so a process-pool worker that only needs
``helpers.apps`` does not pay for pandas, matplotlib and uvicorn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
{type_imports}

_HOMES = {{
{homes}
}}

__all__ = [
{all_names}
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'helpers' has no attribute {{name!r}}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
'''


def front_door(defs: dict[str, list[str]], report: Report) -> dict[str, str]:
    """name → full module, each checked against the module that defines it now."""
    homes: dict[str, str] = {}
    for name, home in FRONT_DOOR.items():
        found = home_of(name, f"{PKG}.{home}", defs)
        if found is None:
            report.warn(f"front door: `{name}` is defined nowhere in helpers; left out")
            continue
        if found != f"{PKG}.{home}":
            report.warn(f"front door: `{name}` is defined in {found}, not {PKG}.{home}")
        if ".lessons." in found:
            report.warn(f"front door: `{name}` lives in a lesson module ({found}); left out")
            continue
        homes[name] = found
    return homes


def leaving_home(name: str, old_homes: dict[str, str], defs: dict[str, list[str]]) -> str:
    if Path(PKG, f"{name}.py").exists():
        return f"{PKG}.{name} (a module: `from helpers import {name}` still works)"
    return home_of(name, resolve(old_homes[name]), defs) or "defined nowhere now"


def init_text(homes: dict[str, str]) -> str:
    names = sorted(homes, key=lambda n: (n.lower(), n))
    core = [n for n in FRONT_DOOR if n in homes][:CORE_COUNT]
    extra = [n for n in FRONT_DOOR if n in homes][CORE_COUNT:]
    by_module: dict[str, list[str]] = {}
    for name in names:
        by_module.setdefault(homes[name], []).append(name)
    type_imports = []
    for module, members in sorted(by_module.items()):
        members = sorted(members, key=lambda n: name_key(Entry("", n, None)))
        type_imports.append(
            render("    ", module, [Entry(module, n, None) for n in members], False)
        )
    return INIT_TEMPLATE.format(
        core=textwrap.fill("The bench: " + ", ".join(f"``{n}``" for n in core) + ".", 92),
        extra=textwrap.fill(
            "Closer looks some lessons take: " + ", ".join(f"``{n}``" for n in extra) + ".", 92
        ),
        type_imports="\n".join(type_imports),
        homes="\n".join(f'    "{n}": "{homes[n]}",' for n in sorted(homes)),
        all_names="\n".join(f'    "{n}",' for n in sorted(homes)),
    )


# --- main -------------------------------------------------------------------------------
def ruff(paths: list[str], report: Report) -> None:
    exe = next(
        (c for c in (Path(".venv/bin/ruff"), shutil.which("ruff")) if c and Path(c).exists()), None
    )
    if exe is None:
        report.warn("ruff not found: import order and formatting left as written")
        return
    py = [p for p in paths if p.endswith(".py")]
    nb = [p for p in paths if p.endswith(".ipynb")]
    if py:
        subprocess.run([str(exe), "check", "--fix", "--select", "I", "--quiet", *py])
        subprocess.run([str(exe), "format", "--quiet", *py])
    if nb:
        subprocess.run([str(exe), "check", "--fix", "--select", "I", "--quiet", *nb])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="report only; change nothing")
    parser.add_argument("--no-ruff", action="store_true", help="skip ruff's import sort/format")
    args = parser.parse_args()
    if not Path(PKG, "__init__.py").exists():
        sys.exit("run me from the repository root (helpers/__init__.py not found)")
    report = Report()
    old_homes = old_front_door()

    do_moves(args.dry_run, report)
    lessons_init = Path(PKG, "lessons", "__init__.py")
    if not args.dry_run and not lessons_init.exists():
        lessons_init.parent.mkdir(exist_ok=True)
        lessons_init.write_text(LESSONS_INIT, encoding="utf-8")
        if in_git():
            subprocess.run(["git", "add", str(lessons_init)], check=True)
        report.created.append(str(lessons_init))

    defs = definitions()
    homes = front_door(defs, report)
    init = Path(PKG, "__init__.py")
    before = init.read_text(encoding="utf-8")
    dropped = sorted(set(old_homes) - set(homes))
    new_init = init_text(homes)
    if new_init != before and dropped:
        report.warn(
            "names leaving the front door: "
            + ", ".join(f"{n} → {leaving_home(n, old_homes, defs)}" for n in dropped)
        )
    write_if_changed(init, new_init, before, args.dry_run, report)

    rw = Rewriter(defs, old_homes, homes)
    changed: list[str] = [str(init)] if new_init != before else []
    for path in py_files():
        if path == init:
            continue
        text = path.read_text(encoding="utf-8")
        if write_if_changed(
            path, rw.python(text, False, str(path), report), text, args.dry_run, report
        ):
            changed.append(str(path))
    for path in sorted(Path("notebooks").rglob("*.ipynb")):
        if ".ipynb_checkpoints" not in path.parts and rewrite_notebook(
            path, rw, args.dry_run, report
        ):
            changed.append(str(path))
    for path in text_files():
        text = path.read_text(encoding="utf-8")
        new = rewrite_paths(text)
        if path.name == "pyproject.toml":
            new = rewrite_pyproject(new)
        write_if_changed(path, new, text, args.dry_run, report)

    if changed and not args.dry_run and not args.no_ruff:
        ruff(changed, report)

    verb = "would move" if args.dry_run else "moved"
    print(f"{verb} {len(report.moved)} modules, {len(report.tests_moved)} tests")
    for line in report.moved + report.tests_moved:
        print(f"  {line}")
    for line in report.created:
        print(f"  created {line}")
    print(f"{'would rewrite' if args.dry_run else 'rewrote'} {len(report.rewritten)} files")
    for name, lines in sorted(report.rewritten.items()):
        print(f"  {name}: {lines} lines changed")
    if report.warnings:
        print(f"{len(report.warnings)} things to look at:")
        for line in report.warnings:
            print(f"  ! {line}")
    if not (report.moved or report.rewritten):
        print("nothing to do: the layout is already in place")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
