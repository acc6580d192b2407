#!/usr/bin/env python3
"""The documents name only files that exist, inside the repository.

usage: markdown_links.py ROOT
       markdown_links.py --self-test     (the check finds each kind of problem in a made-up tree)

Reads README.md, docs/*.md and every other Markdown file under ROOT (build trees and hidden
folders left out) and checks:
  - every relative link [text](target) or ![alt](target) resolves to a file or folder inside
    ROOT (an #anchor is ignored; http, https and mailto links are not followed);
  - every Markdown file named in the text (`streaming/PROTOCOL.md`, experiments/README.md)
    exists, relative to the document or to ROOT;
  - nothing points outside the repository to ../shared.
Prints one line per problem and exits 1, or prints "ok: ..." and exits 0.
"""
import os
import re
import sys
import tempfile

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
NAMED_MD = re.compile(r"(?<![\w./-])((?:\.\./|[\w.-]+/)*[\w.-]+\.md)\b")
EXTERNAL = ("http://", "https://", "mailto:")


def markdown_files(root):
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "build"))
                         and not os.path.exists(os.path.join(folder, d, "CMakeCache.txt")))
        for name in sorted(files):
            if name.endswith(".md"):
                yield os.path.join(folder, name)


def inside(root, path):
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def problems_in(root, path):
    text = open(path, encoding="utf-8").read()
    here = os.path.dirname(path)
    rel = os.path.relpath(path, root)
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{rel}:{number}"
        if "../shared" in line:
            yield f"{where}: points outside the repository: {line.strip()}"
        for target in LINK.findall(line):
            if target.startswith(EXTERNAL) or target.startswith("#"):
                continue
            file_part = target.split("#", 1)[0]
            full = os.path.normpath(os.path.join(here, file_part))
            if not inside(root, full):
                yield f"{where}: link '{target}' leaves the repository"
            elif not os.path.exists(full):
                yield f"{where}: link '{target}' names no file"
        for named in NAMED_MD.findall(LINK.sub("", line)):
            candidates = [os.path.join(here, named), os.path.join(root, named)]
            if not any(inside(root, c) and os.path.exists(c) for c in candidates):
                yield f"{where}: names '{named}', which is neither beside it nor under the root"


def check(root):
    """The problems of the tree at root, one line each."""
    files = list(markdown_files(root))
    missing = [r for r in ("README.md", os.path.join("docs", "ARCHITECTURE.md"))
               if os.path.join(root, r) not in files]
    return files, [f"{r} is missing" for r in missing] + [
        p for f in files for p in problems_in(root, f)]


def self_test():
    """A tree with one problem of each kind: each is reported, and nothing else."""
    tree = {
        "README.md": "[arch](docs/ARCHITECTURE.md) [gone](docs/GONE.md#x) [web](https://x.org/a.md)\n"
                     "See `streaming/PROTOCOL.md` and ../shared/STYLE.md.\n"
                     "![up](../outside.png) [anchor](#layout)\n",
        "docs/ARCHITECTURE.md": "[back](../README.md), [code](../streaming/)\n",
        "streaming/README.md": "[root](../README.md) and experiments/README.md\n",
    }
    expected = [
        "README.md:1: link 'docs/GONE.md#x' names no file",
        "README.md:2: points outside the repository: See `streaming/PROTOCOL.md` and "
        "../shared/STYLE.md.",
        "README.md:2: names 'streaming/PROTOCOL.md', which is neither beside it nor under the root",
        "README.md:2: names '../shared/STYLE.md', which is neither beside it nor under the root",
        "README.md:3: link '../outside.png' leaves the repository",
        "streaming/README.md:1: names 'experiments/README.md', which is neither beside it nor "
        "under the root",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in tree.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, name)), exist_ok=True)
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        _, found = check(os.path.realpath(tmp))
        _, none = check(os.path.realpath(os.path.join(tmp, "docs")))
    if found != expected:
        print("FAIL: the check found\n  " + "\n  ".join(found) + "\nexpected\n  " +
              "\n  ".join(expected))
        return 1
    if none != ["README.md is missing", os.path.join("docs", "ARCHITECTURE.md") + " is missing",
                "ARCHITECTURE.md:1: link '../README.md' leaves the repository",
                "ARCHITECTURE.md:1: link '../streaming/' leaves the repository"]:
        print(f"FAIL: a tree without README.md and docs/: {none}")
        return 1
    print(f"ok: the check reports each of the {len(expected)} planted problems and nothing else")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) != 2:
        sys.exit(__doc__)
    files, problems = check(os.path.realpath(argv[1]))
    for p in problems:
        print(f"FAIL: {p}")
    if problems:
        return 1
    print(f"ok: {len(files)} Markdown files, every link and named document inside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
