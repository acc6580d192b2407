#!/usr/bin/python3
"""Turns the key listing of `surge run --help` (or `surge solve <solver> --help`, `surge train
--help`) into markdown tables, or checks that a document has a row for every key (tests keep
solvers/README.md and experiments/README.md complete).

usage: doc_keys.py markdown <surge> [solve <solver> | train]         print the tables
       doc_keys.py check <surge> <file.md> [solve <solver> | train]  exit 1 naming keys without a row
"""
import re
import subprocess
import sys


def sections(surge, command=("run",)):
    text = subprocess.run([surge, *command, "--help"], check=True, capture_output=True,
                          text=True).stdout
    lines = text.split("\n")
    out, cur = [], None

    def start(title, prefix):
        nonlocal cur
        cur = (title, prefix, [])
        out.append(cur)

    i = 0
    while i < len(lines):
        line = lines[i]
        m_res = re.match(r"reservoir type (\w+) \((.*)\), parameters:", line)
        m_mod = re.match(r"model type (\w+) \((.*)\), parameters:", line)
        m_sampler = re.match(r"sampler type (\w+) \((.*)\), parameters:", line)
        m_solver = re.match(r"(\w+) keys \((.*)\):$", line)
        if line.startswith("experiment keys:"):
            start("Experiment file", "")
        elif line.startswith("train keys:"):
            start("`surge train`: the training file's own keys", "")
        elif m_solver:
            start(f"`surge solve {m_solver.group(1)}`: {m_solver.group(2)}", "")
        elif line.startswith("solver type external (the user's own program)"):
            start("`solver: {type: external, parameters: ...}`: the user's own program",
                  "solver.parameters.")
        elif line.startswith("solver type external, each field"):
            start("`solver: {type: external}`: each field of `parameters.fields`",
                  "solver.parameters.fields.<name>.")
        elif line.startswith("launcher type local"):
            start("`launcher: {type: local, parameters: ...}`", "launcher.parameters.")
        elif line.startswith("launcher type slurm"):
            start("`launcher: {type: slurm, parameters: ...}`: the keys of type local, and",
                  "launcher.parameters.")
        elif m_res:
            start(f"`reservoir: {{type: {m_res.group(1)}}}`: {m_res.group(2)}",
                  "reservoir.parameters.")
        elif m_sampler:
            start(f"`parameters.sampler: {{type: {m_sampler.group(1)}}}`: {m_sampler.group(2)}",
                  "parameters.sampler.parameters.")
        elif m_mod:
            start(f"`model: {{type: {m_mod.group(1)}}}`: {m_mod.group(2)}", "model.parameters.")
        elif (cur and re.match(r"^  [a-z_.0-9]+ ", line) and i + 1 < len(lines)
              and lines[i + 1].strip().startswith("(")):
            key = line.split()[0]
            doc = line.strip()[len(key):].strip()
            meta = lines[i + 1].strip()[1:-1]
            typ, _, rest = meta.partition(", default ")
            depth, cut = 0, None
            for k, ch in enumerate(rest):
                depth += ch in "[{(" and 1 or 0
                depth -= ch in "]})" and 1 or 0
                if ch == "," and depth == 0:
                    cut = k
                    break
            default = rest if cut is None else rest[:cut]
            constraint = "" if cut is None else rest[cut + 2:]
            cur[2].append((cur[1] + key, typ, default, constraint, doc))
            i += 1
        i += 1
    return out


def markdown(surge, command=("run",)):
    esc = lambda s: s.replace("|", "\\|")
    rows = []
    for title, _, keys in sections(surge, command):
        rows += [f"### {title}", "", "| key | type | default | range | meaning |",
                 "|---|---|---|---|---|"]
        rows += [f"| `{k}` | {esc(t)} | {esc(d)} | {esc(c)} | {esc(doc)} |"
                 for k, t, d, c, doc in keys]
        rows.append("")
    return "\n".join(rows)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "markdown":
        print(markdown(sys.argv[2], tuple(sys.argv[3:]) or ("run",)))
        return 0
    if len(sys.argv) >= 4 and sys.argv[1] == "check":
        text = open(sys.argv[3]).read()
        command = tuple(sys.argv[4:]) or ("run",)
        keys = {k for _, _, rows in sections(sys.argv[2], command) for k, *_ in rows}
        missing = sorted(k for k in keys if f"| `{k}` |" not in text)
        if not keys:
            print("no keys found in surge run --help")
            return 1
        for k in missing:
            print(f"{sys.argv[3]} has no row for {k}")
        print(f"{len(keys) - len(missing)}/{len(keys)} keys documented")
        return 1 if missing else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
