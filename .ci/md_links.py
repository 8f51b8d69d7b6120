#!/usr/bin/env python3
"""Every relative link in the repository's Markdown files resolves to a file in the repository.

A link such as `[x](docs/API.md#anchor)` or `[x](../BENCHMARKS.md)` must name an existing file
(or directory) inside the checkout, so the docs read the same in a fresh clone. External links
(`https://…`, `mailto:`) and in-page anchors (`#…`) are not checked.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# [text](target) and [text](target "title"); images too. Reference definitions: [x]: target
INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")


def markdown_files():
    try:
        out = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "*.md"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.split()
        return [f for f in out if os.path.exists(os.path.join(ROOT, f))]
    except (OSError, subprocess.CalledProcessError):
        found = []
        for d, dirs, files in os.walk(ROOT):
            dirs[:] = [x for x in dirs if x not in (".git", "target")]
            found += [os.path.relpath(os.path.join(d, f), ROOT) for f in files if f.endswith(".md")]
        return found


def broken(path):
    text = open(os.path.join(ROOT, path), encoding="utf-8").read()
    text = CODE.sub("", FENCE.sub("", text))
    bad = []
    for target in INLINE.findall(text) + REFDEF.findall(text):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
            continue
        file = target.split("#", 1)[0].split("?", 1)[0]
        if not file:
            continue
        if file.startswith("/"):
            resolved = os.path.normpath(os.path.join(ROOT, file.lstrip("/")))
        else:
            resolved = os.path.normpath(os.path.join(ROOT, os.path.dirname(path), file))
        inside = resolved == ROOT or resolved.startswith(ROOT + os.sep)
        if not inside:
            bad.append((target, "points outside the repository"))
        elif not os.path.exists(resolved):
            bad.append((target, "no such file"))
    return bad


def main():
    failures = 0
    files = markdown_files()
    for f in sorted(files):
        for target, why in broken(f):
            print(f"{f}: link {target}: {why}")
            failures += 1
    if failures:
        print(f"{failures} broken relative link(s) in Markdown files")
        return 1
    print(f"{len(files)} Markdown files: every relative link resolves in the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main())
