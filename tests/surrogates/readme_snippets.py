#!/usr/bin/env python3
"""Test docs_surrogates_readme_snippets: surrogates/README.md quotes the examples the consumer
tests build. Every region of examples/surrogate/*/* between a `[readme]` and a `[readme end]`
comment line must appear verbatim (less its common indentation) in surrogates/README.md.

  readme_snippets.py surrogates/README.md examples/surrogate
"""
import os
import sys
import textwrap


def regions(path):
    out, current = [], None
    for line in open(path):
        if "[readme end]" in line:
            if current is None:
                sys.exit(f"FAIL: {path}: [readme end] without [readme]")
            out.append(textwrap.dedent("".join(current)))
            current = None
        elif "[readme]" in line:
            current = []
        elif current is not None:
            current.append(line)
    if current is not None:
        sys.exit(f"FAIL: {path}: [readme] without [readme end]")
    return out


def main(readme, examples):
    text = open(readme).read()
    count = 0
    for lang in sorted(os.listdir(examples)):
        folder = os.path.join(examples, lang)
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            for snippet in regions(path):
                count += 1
                if snippet not in text:
                    sys.exit(f"FAIL: {readme} does not quote {path} as it is now:\n{snippet}")
    if count < 3:
        sys.exit(f"FAIL: only {count} [readme] regions under {examples}")
    print(f"ok: {readme} quotes the {count} example regions verbatim")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
