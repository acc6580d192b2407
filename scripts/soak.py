#!/usr/bin/python3
"""A long study under faults (scripts/soak.sh is the entry point; issue 30).

A continuous study (tests/experiments/small.yaml: 16x16 heat2d members of one rank, drawn on
and on) runs for the given minutes while, at seeded random moments,
  - a member process is SIGKILLed (every 10-30 s),
  - hostile_peer attacks the live server: refused handshakes, forged tickets and DATA, idle
    TCP connections (every 20-60 s),
  - the server is SIGKILLed once a study checkpoint newer than its start exists, and
    `surge resume`d (every few minutes: the run is cut into `restarts + 1` equal legs).
At the end the server is stopped with SIGINT (it writes its results) and one table is
printed: wall time, samples received and trained, members done / retried / redrawn, server
restarts, peak and final RSS, open file descriptors and threads of the first and the last
server at their start and end, bytes in checkpoints/ and logs/, and whether every count is
exact. Exits 0 when every count is exact and every resource stays within its bound, else 1.

usage: soak.py <surge> <hostile_peer> <experiment.yaml> <minutes> [--seed N] [--restarts N]
               [--keep DIR] [--rss-growth-mib M]
"""
import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

FRAMES = 11  # frames a member of small.yaml streams (its initial state and 10 outputs)
MAX_MESSAGE = 65536
SERVER_TIMEOUT_S = 5
# Resources of the last server at its end against the first at its start: allowed growth
# (RSS: --rss-growth-mib, default 64).
FD_GROWTH = 8
THREAD_GROWTH = 2


def fail(message):
    print("FAIL:", message, flush=True)
    sys.exit(1)


def proc_status(pid):
    """(VmRSS KiB, VmHWM KiB, threads, open fds) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return (int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0]),
                int(fields["Threads"]), fds)
    except (OSError, KeyError, ValueError):
        return None


def member_pids(name):
    r = subprocess.run(["pgrep", "-f", "--", f"--experiment {name} "], capture_output=True,
                       text=True)
    return [int(p) for p in r.stdout.split()]


def directory_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


class Server:
    """One server process (surge run, then surge resume after each kill) and its samples."""

    def __init__(self, argv, log_path):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.started = time.time()
        self.first = None  # (rss, hwm, threads, fds) once it trains
        self.last = None

    def training(self):
        """Whether the server has its validation set and trains (its log says so): the first
        sample is taken then, not at a fixed time, which a loaded machine can spend starting."""
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return "validation set: " in f.read()  # logged as training begins

    def sample(self):
        s = proc_status(self.proc.pid)
        if s is not None:
            if self.first is None and self.training():
                self.first = s
            self.last = s

    def alive(self):
        return self.proc.poll() is None


def newest_checkpoint(out):
    names = [d for d in os.listdir(os.path.join(out, "checkpoints"))
             if re.fullmatch(r"study_\d+", d)] if os.path.isdir(os.path.join(out, "checkpoints")) else []
    return max((os.path.getmtime(os.path.join(out, "checkpoints", d)) for d in names), default=0)


def attack(peer, out, server, name):
    """hostile_peer against the live server; returns its exit code (0: answered as expected)."""
    with open(os.path.join(out, "server_endpoint")) as f:
        front = f.read().strip()
    server.log.flush()
    with open(server.log.name) as f:
        m = re.search(r"receiver 0 listening on (tcp://\S+)", f.read())
    if m is None:
        return None
    data = m.group(1)
    r = subprocess.run([peer, front, data, name, "temperature", "16", "16", "6", "1",
                        str(MAX_MESSAGE), "50", "1"] + [str(i) for i in range(8)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print(f"  hostile_peer exited with {r.returncode}: {r.stderr.strip()[-500:]}", flush=True)
    return r.returncode


def check_counts(out):
    """Exact counts of the results; returns (problems, figures)."""
    problems = []
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        m = f["members"]
        status = [s.decode() if isinstance(s, bytes) else s for s in m.attrs["status"]]
        roles = [s.decode() if isinstance(s, bytes) else s for s in m.attrs["role"]]
        ids, samples, attempts = m["simulation_id"][:], m["samples"][:], m["attempts"][:]
        parameters = m["parameters"][:]
        received = int(f["server_ranks/samples_received"][:].sum())
        batches = int(f["training/batch"][-1]) if len(f["training/batch"]) else 0
        res = f["reservoir"].attrs
        puts = int(res["puts"] + res["rejected_puts"])
        refused = {k: int(v) for k, v in f["streaming"].attrs.items()
                   if k.startswith("refused") or k.startswith("dropped")}
    n = len(ids)
    if sorted(int(i) for i in ids) != list(range(n)):
        problems.append("simulation ids are not 0..N-1")
    if len({tuple(p) for p in parameters}) != n:
        problems.append("a parameter set was drawn twice")
    if received != int(samples.sum()):
        problems.append(f"{received} samples received, the members table sums to {int(samples.sum())}")
    train = int(sum(samples[i] for i in range(n) if roles[i] == "train"))
    if puts != train:
        problems.append(f"the reservoir took {puts} samples, training members delivered {train}")
    for i in range(n):
        if status[i] == "done" and samples[i] != FRAMES:
            problems.append(f"simulation {ids[i]} done with {samples[i]} of {FRAMES} samples")
        if samples[i] > FRAMES:
            problems.append(f"simulation {ids[i]}: {samples[i]} samples, more than {FRAMES}")
    figures = {
        "members": n,
        "done": status.count("done"),
        "retried": int(sum(1 for a in attempts if a > 1)),
        "redrawn": status.count("redrawn") + status.count("failed"),
        "stopped": status.count("stopped"),
        "received": received,
        "trained_batches": batches,
        "reservoir_puts": puts,
        "refused": sum(refused.values()),
    }
    return problems, figures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("surge")
    ap.add_argument("peer")
    ap.add_argument("yaml")
    ap.add_argument("minutes", type=float)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--restarts", type=int, default=None)
    ap.add_argument("--keep", default=None, help="output directory to keep (default: removed)")
    ap.add_argument("--rss-growth-mib", type=float, default=64,
                    help="RSS the last server may hold at its end beyond the first at its start")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    seconds = a.minutes * 60
    restarts = a.restarts if a.restarts is not None else max(1, int(a.minutes // 4))
    tmp = tempfile.mkdtemp(prefix="surge-soak-")
    out = a.keep or os.path.join(tmp, "out")
    if a.keep and os.path.exists(out):
        shutil.rmtree(out)
    name = f"soak{os.getpid()}"
    keys = [f"study.name={name}", f"study.output_dir={out}", "parameters.continuous=true",
            "parameters.sampler={type: halton}", "parameters.train_members=2", "solver.ranks=1",
            f"training.max_seconds={4 * seconds + 600:.0f}", "training.max_batches=1000000000",
            "study.checkpoint_every_s=5",
            "study.checkpoints_kept=2",
            f"streaming.server_timeout_s={SERVER_TIMEOUT_S}",
            f"streaming.max_message_bytes={MAX_MESSAGE}", "launcher.parameters.retries=2",
            "launcher.parameters.on_failure=redraw", "launcher.parameters.max_failed_members=100000",
            "--no-plots"]
    servers = [Server([a.surge, "run", a.yaml] + keys, os.path.join(tmp, "server0.log"))]
    start = time.time()
    leg = seconds / (restarts + 1)
    next_member_kill = start + rng.uniform(10, 30)
    next_attack = start + rng.uniform(20, 60)
    member_kills = attacks = 0
    attack_failures = []
    last_report = start
    print(f"soak: {a.minutes:g} min, seed {a.seed}, {restarts} server kills, output {out}",
          flush=True)
    try:
        while time.time() - start < seconds:
            server = servers[-1]
            server.sample()
            if not server.alive():
                fail(f"the server exited with {server.proc.returncode} on its own "
                     f"(log {server.log.name}: {open(server.log.name).read()[-2000:]})")
            now = time.time()
            if now >= next_member_kill:
                pids = member_pids(name)
                if pids:
                    try:
                        os.kill(rng.choice(pids), signal.SIGKILL)
                        member_kills += 1
                    except ProcessLookupError:  # it ended between pgrep and now
                        pass
                next_member_kill = now + rng.uniform(10, 30)
            if now >= next_attack and os.path.exists(os.path.join(out, "server_endpoint")):
                rc = attack(a.peer, out, server, name)
                if rc is not None:
                    attacks += 1
                    if rc != 0:
                        attack_failures.append(rc)
                next_attack = time.time() + rng.uniform(20, 60)
            # A server kill at the end of each leg, once a checkpoint newer than its start exists.
            if (len(servers) <= restarts and now - start >= leg * len(servers)
                    and newest_checkpoint(out) > server.started):
                time.sleep(rng.uniform(0, 2))
                server.sample()
                server.proc.kill()
                server.proc.wait()
                deadline = time.time() + SERVER_TIMEOUT_S + 10
                while member_pids(name) and time.time() < deadline:
                    time.sleep(0.2)
                if member_pids(name):
                    fail(f"members still running {SERVER_TIMEOUT_S + 10} s after the server was killed")
                servers.append(Server([a.surge, "resume", out, "--no-plots"],
                                      os.path.join(tmp, f"server{len(servers)}.log")))
                print(f"  {now - start:6.0f} s: server killed and resumed "
                      f"({len(servers) - 1} of {restarts})", flush=True)
            if now - last_report >= 60:
                s = server.last
                print(f"  {now - start:6.0f} s: {member_kills} member kills, {attacks} attacks, "
                      f"RSS {s[0] / 1024 if s else 0:.0f} MiB, threads {s[2] if s else 0}, "
                      f"fds {s[3] if s else 0}", flush=True)
                last_report = now
            time.sleep(0.5)
        server = servers[-1]
        server.sample()
        server.proc.send_signal(signal.SIGINT)
        rc = server.proc.wait(timeout=120)
        wall = time.time() - start
        if rc != 130:
            fail(f"the last server exited with {rc} after SIGINT, expected 130 "
                 f"({open(server.log.name).read()[-2000:]})")
        problems, fig = check_counts(out)
        if attack_failures:
            problems.append(f"hostile_peer got unexpected answers {len(attack_failures)} times")
        first, last = servers[0].first, servers[-1].last
        if first is None or last is None:
            problems.append("the server was never sampled while it trained")
            first = last = first or last or (0, 0, 0, 0)
        if (last[0] - first[0]) / 1024 > a.rss_growth_mib:
            problems.append(f"RSS grew by {(last[0] - first[0]) / 1024:.0f} MiB "
                            f"(bound {a.rss_growth_mib:g} MiB)")
        if last[3] - first[3] > FD_GROWTH:
            problems.append(f"open files grew from {first[3]} to {last[3]}")
        if last[2] - first[2] > THREAD_GROWTH:
            problems.append(f"threads grew from {first[2]} to {last[2]}")
        peak = max((s.last[1] for s in servers if s.last), default=0)
        ckpt = directory_bytes(os.path.join(out, "checkpoints"))
        logs = directory_bytes(os.path.join(out, "logs"))
        rows = [
            ("wall time", f"{wall / 60:.1f} min"),
            ("samples received", f"{fig['received']}"),
            ("samples trained on (reservoir puts)", f"{fig['reservoir_puts']}"),
            ("batches trained", f"{fig['trained_batches']}"),
            ("members drawn / done / retried / redrawn / stopped",
             f"{fig['members']} / {fig['done']} / {fig['retried']} / {fig['redrawn']} / "
             f"{fig['stopped']}"),
            ("member processes SIGKILLed", f"{member_kills}"),
            ("server restarts (SIGKILL + surge resume)", f"{len(servers) - 1}"),
            ("hostile_peer attacks (refused or dropped, counted)",
             f"{attacks} ({fig['refused']} since the last resume)"),
            ("server RSS: first at start / last at end / peak (VmHWM)",
             f"{first[0] / 1024:.0f} / {last[0] / 1024:.0f} / {peak / 1024:.0f} MiB"),
            ("open file descriptors: first at start / last at end", f"{first[3]} / {last[3]}"),
            ("threads: first at start / last at end", f"{first[2]} / {last[2]}"),
            ("bytes in checkpoints/ (2 kept) and logs/",
             f"{ckpt / 2**20:.1f} MiB, {logs / 2**20:.1f} MiB"),
            ("every count exact", "yes" if not problems else "NO: " + "; ".join(problems)),
        ]
        width = max(len(r[0]) for r in rows)
        print(f"\n| {'soak, ' + f'{a.minutes:g} min, seed {a.seed}':<{width}} | |")
        print(f"|{'-' * (width + 2)}|---|")
        for k, v in rows:
            print(f"| {k:<{width}} | {v} |")
        if problems:
            fail("; ".join(problems))
        print(f"ok: soak of {wall / 60:.1f} min, {len(servers) - 1} restarts, "
              f"{member_kills} member kills, {attacks} attacks: counts exact, resources flat")
    finally:
        for s in servers:
            if s.alive():
                s.proc.kill()
        subprocess.run(["pkill", "-9", "-f", "--", f"--experiment {name} "])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
