#!/usr/bin/python3
"""More data than memory through one server (issue 24, item 6).

Runs heat2d_256.yaml (a continuous study of 256 x 256 heat2d members) for --seconds of
training, or until --gb of fields have arrived (then it stops the study as Ctrl-C would, from
the server's progress lines), samples the server's RSS every second, and prints one table:
samples received, GB of fields streamed, the machine's memory, the server's peak RSS, batches
trained, bytes the study wrote, wall time. Exits 1 if the server's counts do not balance or the
study fails.

usage: stream.py [--surge build/bin/surge] [--seconds 3600] [--gb 0] [--out DIR]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def kib(pid, key):
    """A /proc/PID/status figure in KiB (VmRSS, VmHWM), or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def du(path):
    total = 0
    for d, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(d, name)).st_size
            except OSError:
                pass
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--surge", default=os.path.join(ROOT, "build/bin/surge"))
    ap.add_argument("--seconds", type=float, default=3600)
    ap.add_argument("--gb", type=float, default=0,
                    help="stop the study once this many GB of fields have arrived (0: never)")
    ap.add_argument("--out", default=os.path.join(ROOT, "results/heat2d_256_stream"))
    a = ap.parse_args()
    command = [a.surge, "run", os.path.join(HERE, "heat2d_256.yaml"),
               f"study.output_dir={a.out}", f"training.max_seconds={a.seconds:g}",
               "--overwrite", "--no-plots"]
    print("stream:", " ".join(command), flush=True)
    t0 = time.time()
    frame_bytes = 256 * 256 * 4
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stopped = threading.Event()

    def relay():
        """Echoes the server's lines; stops the study at --gb from its progress lines."""
        for line in server.stdout:
            sys.stdout.write(line)
            m = re.search(r"(\d+) samples in", line)
            if (a.gb > 0 and m and int(m.group(1)) * frame_bytes >= a.gb * 1e9
                    and not stopped.is_set()):
                stopped.set()
                print(f"stream: {a.gb:g} GB arrived; stopping the study", flush=True)
                server.send_signal(signal.SIGINT)
        sys.stdout.flush()

    reader = threading.Thread(target=relay)
    reader.start()
    peak = 0
    last_print = t0
    while server.poll() is None:
        rss = kib(server.pid, "VmRSS")
        if rss is not None:
            peak = max(peak, kib(server.pid, "VmHWM") or rss)
        if time.time() - last_print > 60:
            print(f"stream: {time.time() - t0:.0f} s, server RSS {rss / 1024 if rss else 0:.0f} "
                  f"MiB (peak {peak / 1024:.0f})", flush=True)
            last_print = time.time()
        time.sleep(1)
    reader.join()
    wall = time.time() - t0
    if server.returncode != 0 and not (stopped.is_set() and server.returncode == 130):
        print(f"stream: surge run failed (exit {server.returncode})", file=sys.stderr)
        return 1
    with h5py.File(os.path.join(a.out, "results.h5"), "r") as f:
        received = int(f["server_ranks/samples_received"][:].sum())
        member_samples = int(f["members/samples"][:].sum())
        members = len(f["members/simulation_id"])
        batches = int(f["training/batch"][-1]) if len(f["training/batch"]) else 0
    streamed = received * frame_bytes
    with open("/proc/meminfo") as f:
        mem_total = int(f.readline().split()[1]) * 1024
    rows = [
        ("members drawn", f"{members}"),
        ("samples received (each a 256 x 256 float32 frame)", f"{received}"),
        ("GB of fields streamed", f"{streamed / 1e9:.1f}"),
        ("machine memory (GB)", f"{mem_total / 1e9:.1f}"),
        ("streamed / machine memory", f"{streamed / mem_total:.2f}"),
        ("server peak RSS (MiB)", f"{peak / 1024:.0f}"),
        ("batches trained", f"{batches}"),
        ("bytes the study wrote (MB)", f"{du(a.out) / 1e6:.1f}"),
        ("wall time (s)", f"{wall:.0f}"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if received != member_samples:
        print(f"stream: {received} samples received, the members table sums to {member_samples}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
