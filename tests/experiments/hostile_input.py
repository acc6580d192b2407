#!/usr/bin/python3
"""Issue 14: nothing on the wire stops a study. Runs the same small study twice: once in
peace, once while hostile_peer attacks the live server (refused handshakes, dropped messages,
1000 idle TCP connections). The attacked study must exit 0 with exactly the samples of the
peaceful one, results.h5 streaming/ must count every attack in its counter, and the server's
peak RSS (VmHWM, sampled during the run) must stay under the bound experiments/README.md
documents ("Memory under hostile input").

usage: hostile_input.py <surge> <hostile_peer> <experiment.yaml>
"""
import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import h5py

MAX_MESSAGE = 65536  # streaming.max_message_bytes of both runs: the oversized attacks
MAX_PENDING = 4 << 20
HWM, QUEUE = 64, 16
IDLE = 1000
IDS = 40  # simulation ids to forge tickets, DATA and END for: every member of the study
MIB = 1 << 20


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def vm_hwm(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def start_study(surge, yaml, out, name, extra):
    args = [surge, "run", yaml, f"study.output_dir={out}", f"study.name={name}",
            "launcher.parameters.max_concurrent=1",
            # every member must finish: the attack runs while they do, and the counts
            # must equal the peaceful run's
            "study.wait_for_members=true",
            # long enough (members start in ~0.4 s) for every attack to find it running
            "parameters.train_members=30",
            f"streaming.max_message_bytes={MAX_MESSAGE}",
            f"streaming.max_pending_bytes={MAX_PENDING}",
            f"streaming.max_pending_bytes_per_member={MAX_PENDING // 4}",
            f"streaming.hwm={HWM}", f"streaming.queue_capacity={QUEUE}", "--no-plots"] + extra
    log = open(out + ".stderr", "w+")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=log, text=True)
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], vm_hwm(proc.pid))
            time.sleep(0.05)
    sampler = threading.Thread(target=sample)
    sampler.start()
    return proc, log, peak, sampler


def finish(proc, log, peak, sampler, what):
    try:
        stdout, _ = proc.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail(f"{what}: surge run did not finish in 400 s")
    sampler.join()
    log.seek(0)
    stderr = log.read()
    if proc.returncode != 0:
        print(stderr[-3000:])
        fail(f"{what}: surge run exited {proc.returncode}")
    return stdout, stderr, peak[0]


def samples_of(out):
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        return (int(f["server_ranks/samples_received"][()].sum()),
                sorted(zip(f["members/simulation_id"][()].tolist(),
                           f["members/samples"][()].tolist())),
                dict(f["streaming"].attrs))


def main():
    surge, peer, yaml = sys.argv[1:4]
    tmp = tempfile.mkdtemp(prefix="surge-hostile-")
    atexit.register(shutil.rmtree, tmp, True)
    name = f"hostile{os.getpid()}"

    # 1. In peace.
    clean = os.path.join(tmp, "clean")
    run = start_study(surge, yaml, clean, name, [])
    _, _, clean_peak = finish(*run, "the peaceful study")
    clean_total, clean_members, clean_counts = samples_of(clean)

    # 2. Under attack, once the server listens (its endpoint file) and its receiver's port is
    #    known (the debug log: an attacker would use `ss -ltnp` as well).
    attacked = os.path.join(tmp, "attacked")
    proc, log, peak, sampler = start_study(surge, yaml, attacked, name, ["--log-level", "debug"])
    endpoint_file = os.path.join(attacked, "server_endpoint")
    data = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        log.flush()
        with open(attacked + ".stderr") as f:
            m = re.search(r"receiver 0 listening on (tcp://\S+)", f.read())
        if m and os.path.exists(endpoint_file):
            data = m.group(1)
            break
        time.sleep(0.05)
    if data is None:
        proc.kill()
        fail("the attacked study never said where it listens")
    with open(endpoint_file) as f:
        front = f.read().strip()
    started = time.time()
    attack = subprocess.run(
        [peer, front, data, name, "temperature", "16", "16", "6", "2", str(MAX_MESSAGE),
         str(IDLE), "3"] + [str(i) for i in range(IDS)],
        capture_output=True, text=True, timeout=300)
    attack_seconds = time.time() - started
    still_running = proc.poll() is None
    stdout, stderr, attacked_peak = finish(proc, log, peak, sampler, "the attacked study")
    if attack.returncode != 0:
        # What the server saw while the attack failed: its log's last lines (the debug level
        # names every refused handshake and dropped message), and whether it still ran.
        print("\n".join(stderr.splitlines()[-40:]))
        fail(f"hostile_peer (after {attack_seconds:.1f} s; the study "
             f"{'still ran' if still_running else 'had ended'} then): "
             f"{attack.stderr.strip()}")
    if not still_running:
        fail("the study ended before the attacks did: make it longer")

    # 3. The same samples, every attack counted.
    total, members, counts = samples_of(attacked)
    if total != clean_total or [n for _, n in members] != [n for _, n in clean_members]:
        fail(f"samples under attack {total} {members}, in peace {clean_total} {clean_members}")
    checked = 0
    for line in attack.stdout.splitlines():
        word = line.split()
        if word[0] == "expect":
            if int(counts.get(word[1], -1)) != int(word[2]):
                fail(f"streaming/{word[1]} = {counts.get(word[1])}, expected {word[2]}")
            checked += 1
        elif word[0] == "expect_sum":
            keys = ([k for k in counts if k.startswith("rejected_")] if word[1] == "rejected_*"
                    else word[1].split("+"))
            got = sum(int(counts[k]) for k in keys)
            if got != int(word[2]):
                fail(f"streaming/{word[1]} sum to {got}, expected {word[2]}")
            checked += 1
    for k, v in counts.items():  # the peaceful study had nothing to refuse or drop
        if (k.startswith("refused_") or k.startswith("rejected_") or k.startswith("feeder_")) \
                and int(clean_counts[k]) != 0:
            fail(f"the peaceful study counted {k} = {clean_counts[k]}")

    # 4. Memory: the documented bound over the peaceful peak.
    bound = clean_peak + MAX_PENDING + (HWM + QUEUE) * MAX_MESSAGE + IDLE * 64 * 1024 + 64 * MIB
    if attacked_peak > bound:
        fail(f"peak RSS under attack {attacked_peak / MIB:.1f} MiB > bound {bound / MIB:.1f} MiB")
    print("streaming/ under attack:",
          ", ".join(f"{k} {int(v)}" for k, v in sorted(counts.items()) if int(v)))
    print(f"ok: {total} samples in both runs, {checked} counters as expected, attacks took "
          f"{attack_seconds:.1f} s; peak RSS {clean_peak / MIB:.1f} MiB in peace, "
          f"{attacked_peak / MIB:.1f} MiB under attack (bound {bound / MIB:.1f} MiB)")


if __name__ == "__main__":
    main()
