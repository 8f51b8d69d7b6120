#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a cycle (ARCHITECTURE.md, invariant
"no import cycles").

For every crate under crates/, each top-level module (src/<m>.rs or src/<m>/) is a node, and
a file of module A that names `crate::B` (in a `use` or a path) is an edge A -> B. Inside
each top-level module the same is done one level down (src/<m>/<n>.rs naming `super::<k>` or
`crate::<m>::<k>`): siblings must not import each other in a cycle either. A module's own
`mod.rs` is its parent, which may use its children (that is what declaring them is for); a
child naming its parent's items (`super::item`) is not an edge between siblings.

  python3 .ci/module_cycles.py        # prints the graphs' cycles; exit 1 when there is one
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRATE_PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?")
USE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\};", re.S)
SUPER_PATH = re.compile(r"\bsuper::([a-z_][a-z0-9_]*)")
SUPER_GROUP = re.compile(r"\buse\s+super::\{([^;]*)\};", re.S)


def strip(text):
    """Drops comments (doc comments name modules in prose) and #[cfg(test)] modules."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    i = text.find("#[cfg(test)]\nmod tests")
    return text if i < 0 else text[:i]


def top_modules(src):
    mods = {}
    for p in sorted(src.iterdir()):
        if p.is_file() and p.suffix == ".rs" and p.stem not in ("lib", "main"):
            mods[p.stem] = [p]
        elif p.is_dir():
            mods[p.name] = sorted(p.rglob("*.rs"))
    return mods


def names_in_group(group):
    # `use crate::{a::X, b, c::{Y, Z}}`: the first segment of each item at depth 0.
    out, depth, cur = [], 0, ""
    for ch in group:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        cur += ch if depth == 0 else ""
    out.append(cur)
    return [o.strip().split("::")[0].strip() for o in out if o.strip()]


def cycles(graph):
    """Every elementary cycle found by DFS (enough to name them)."""
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return found


def check_crate(crate):
    src = crate / "src"
    if not src.is_dir():
        return []
    mods = top_modules(src)
    graph = {m: set() for m in mods}
    problems = []
    for m, files in mods.items():
        for f in files:
            text = strip(f.read_text())
            targets = {a for a, _ in CRATE_PATH.findall(text)}
            for g in USE_GROUP.findall(text):
                targets.update(names_in_group(g))
            graph[m].update(t for t in targets if t in mods and t != m)
        # One level down: siblings inside a directory module.
        if files and files[0].parent != src:
            d = src / m
            kids = {p.stem: p for p in d.glob("*.rs") if p.stem != "mod"}
            kids.update({p.name: p / "mod.rs" for p in d.iterdir() if p.is_dir()})
            sub = {k: set() for k in kids}
            for k, f in kids.items():
                fs = [f] if f.name != "mod.rs" else sorted(f.parent.rglob("*.rs"))
                for ff in fs:
                    text = strip(ff.read_text())
                    t = set(SUPER_PATH.findall(text))
                    for g in SUPER_GROUP.findall(text):
                        t.update(names_in_group(g))
                    t.update(b for a, b in CRATE_PATH.findall(text) if a == m and b)
                    sub[k].update(x for x in t if x in kids and x != k)
            for c in cycles(sub):
                problems.append(f"{crate.name}: {m}::{{{' -> '.join(c)}}}")
    for c in cycles(graph):
        problems.append(f"{crate.name}: {' -> '.join(c)}")
    return problems


def main():
    problems = []
    for crate in sorted((ROOT / "crates").iterdir()):
        problems += check_crate(crate)
    for p in problems:
        print(f"import cycle: {p}")
    if problems:
        print("Break each cycle: move what both sides need into a module below both "
              "(ARCHITECTURE.md, invariants).")
        return 1
    print(f"module_cycles: no import cycles in {len(list((ROOT / 'crates').iterdir()))} crates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
