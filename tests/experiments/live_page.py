#!/usr/bin/python3
"""The live page in a real browser (headless Debian chromium).

usage: live_page.py study <surge> <experiment.yaml>   a small study with --serve, then surge view
       live_page.py errors <surge> <experiment.yaml>  port in use, bad interface, no results.h5
       live_page.py crashed <surge> <experiment.yaml> surge view of a study SIGKILLed mid-run
       live_page.py train <surge> <experiment.yaml>   surge train --serve over surge solve's files

`study` loads the page during the study and after it, checks through the DOM that the charts
hold the numbers results.h5 ends with (batches, final loss, member counts), that requests
without the token or with a wrong one are refused (401, 403), and writes screenshots into
./screenshots (the test's directory); then the same for `surge view` of the finished study. `crashed` kills a study (SIGKILL, its
whole process group) after its second study checkpoint and checks that `surge view` shows
that checkpoint: its batch, curves, member counts and samples received, and says why.
`train` writes four member files with `surge solve` and checks the page of `surge train
--serve` against its results.h5 as `study` does (the experiment file is not used).
Exits 77 (skipped) when chromium is not installed.
"""

import html.parser
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import h5py

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--hide-scrollbars", "--window-size=1400,1300"]
STATUSES = ["pending", "running", "done", "failed", "redrawn", "stopped"]


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def wait_for(what, check, timeout_s, proc=None):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            fail(f"surge exited with {proc.returncode} while waiting for {what}")
        time.sleep(0.2)
    fail(f"no {what} after {timeout_s} s")


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def check_token_refused(url):
    base, token = url.split("?token=")
    for path in ["", "state.json", "chart.js", "page.js"]:
        code, _ = http_status(base + path)
        if code != 401:
            fail(f"{base + path} without a token answered {code}, not 401")
        code, _ = http_status(base + path + "?token=" + token[:-1] + ("0" if token[-1] != "0" else "1"))
        if code != 403:
            fail(f"{base + path} with a wrong token answered {code}, not 403")
    code, body = http_status(base + "state.json?token=" + token)
    if code != 200 or not body.startswith(b"{"):
        fail(f"state.json with the token answered {code}")
    print("ok: requests without the token are refused (401), with a wrong one too (403)")


def chromium(workdir, url, *args):
    profile = tempfile.mkdtemp(dir=workdir, prefix="chromium-profile-")  # fresh each time
    cmd = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
           "--virtual-time-budget=4000", *args, url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    if done.returncode != 0:
        fail(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def screenshot(workdir, url, name):
    os.makedirs("screenshots", exist_ok=True)
    path = os.path.abspath(os.path.join("screenshots", name))
    if os.path.exists(path):
        os.remove(path)
    chromium(workdir, url, f"--screenshot={path}")
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) < 10000:
        fail(f"{path} is not a screenshot of the page ({len(data)} bytes)")
    print(f"ok: screenshot {path} ({len(data)} bytes)")


class Dom(html.parser.HTMLParser):
    """Attributes and text of the elements that have an id."""

    def __init__(self):
        super().__init__()
        self.attrs, self.text, self.rows, self._open = {}, {}, 0, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.attrs[a["id"]] = a
            self._open = a["id"]
        if tag == "body":
            self.attrs["body"] = a
        if tag == "tr" and self._in_members:
            self.rows += 1
        if a.get("id") == "member-table":
            self._in_members = True

    _in_members = False

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_members = False

    def handle_data(self, data):
        if self._open:
            self.text[self._open] = self.text.get(self._open, "") + data
            self._open = None


def load_dom(workdir, url):
    dom = Dom()
    dom.feed(chromium(workdir, url, "--dump-dom"))
    return dom


def expect_equal(what, seen, expected):
    if seen != expected:
        fail(f"{what}: the page shows {seen!r}, results.h5 holds {expected!r}")


def check_dom_against_results(dom, results, command):
    """The charts hold what results.h5 ends with."""
    with h5py.File(results, "r") as f:
        batches = int(f.attrs["batches"])
        loss = float(f["training/loss"][-1])
        last_batch = int(f["training/batch"][-1])
        status = [s.decode() if isinstance(s, bytes) else str(s) for s in f["members"].attrs["status"]]
    expect_equal("finished", dom.attrs["body"].get("data-finished"), "true")
    expect_equal("command", dom.text.get("command"), command)
    expect_equal("batches", int(dom.text["batches"]), batches)
    chart = dom.attrs["loss-chart"]
    expect_equal("the loss chart's last batch", int(float(chart["data-last-x"])), last_batch)
    page_loss = float(chart["data-last"])
    if abs(page_loss - loss) > 1e-12 * abs(loss):
        fail(f"the loss chart ends at {page_loss!r}, results.h5 at {loss!r}")
    members = dom.attrs["members-chart"]
    for s in STATUSES:
        expect_equal(f"members {s}", int(members[f"data-{s}"]), status.count(s))
    expect_equal("member table rows", dom.rows - 1, len(status))  # less its header row
    check_space(dom, results)
    check_image(dom, results)
    print(f"ok: the {command} page shows {batches} batches, final loss {loss:.6e}, members "
          + ", ".join(f"{status.count(s)} {s}" for s in STATUSES if status.count(s)))


def check_space(dom, results):
    """The parameter-space chart: the first two parameters that vary, every member once."""
    with h5py.File(results, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in f["members"].attrs["parameter_names"]]
        p = f["members/parameters"][:]
    varying = [names[k] for k in range(len(names)) if len(set(p[:, k])) > 1]
    chart = dom.attrs["space-chart"]
    expect_equal("the parameter chart's axes", [chart.get("data-x-name"), chart.get("data-y-name")],
                 varying[:2])
    expect_equal("the parameter chart's points", int(chart["data-points"]), len(p))


def check_image(dom, results):
    """The images: the last frame of the first member of predictions/, thinned as the page
    thins it (every k-th node, k = ceil(max side / 64)), truth and prediction per channel."""
    with h5py.File(results, "r") as f:
        g = f["predictions"]
        member = int(g["simulation_id"][0])
        truth, prediction = g["truth"][0, -1], g["prediction"][0, -1]
    if truth.ndim == 2:
        truth, prediction = truth[None], prediction[None]
    k = -(-max(truth.shape[1:]) // 64)
    expect_equal("the image's member", int(dom.attrs["image-card"]["data-member"]), member)
    expect_equal("the image's channels", int(dom.attrs["image-card"]["data-channels"]), len(truth))
    for c in range(len(truth)):
        for what, field in (("truth", truth[c]), ("prediction", prediction[c])):
            a = dom.attrs[f"image-{c}-{what}"]
            thinned = field[::k, ::k]
            for key, value in (("data-value-min", thinned.min()), ("data-value-max", thinned.max())):
                seen = float(a[key])
                if abs(seen - float(value)) > 1e-5 * max(abs(float(value)), 1e-30):
                    fail(f"image {c} {what}: {key} {seen!r} on the page, {float(value)!r} in results.h5")
    print(f"ok: the image shows member {member}, {len(truth)} channel(s), thinned by {k}")


def stop(proc, what):
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail(f"{what} did not end within 60 s of Ctrl-C")
    if rc != 0:
        fail(f"{what} exited with {rc} after Ctrl-C, not 0")


def url_of(log_path, proc):
    def found():
        with open(log_path) as f:
            m = re.search(r"http://127\.0\.0\.1:\d+/\?token=[0-9a-f]{32}\n", f.read())
        return m.group(0).strip() if m else None
    return wait_for("URL line in the log", found, 120, proc)


def check_finished_page(proc, url, out, command, workdir):
    """Waits until the page of `surge <command> --serve` says finished (the study lingers),
    checks it against results.h5 and takes a screenshot."""
    base, token = url.split("?token=")
    wait_for(f"finished {command}", lambda: b'"finished":true' in
             http_status(base + "state.json?token=" + token)[1], 600, proc)
    check_dom_against_results(load_dom(workdir, url), os.path.join(out, "results.h5"), command)
    screenshot(workdir, url, f"live_{command}_finished.png")


def study(surge, yaml, workdir):
    out = os.path.join(workdir, "out")
    log = os.path.join(workdir, "run.log")
    with open(log, "w") as f:
        # Past History::kTrainingRows (8192) batches, so that results.h5's rows are means over
        # several batches, the last one over batches 9001 and 9002, which the page's curve
        # must end with too (CI's faster machine once got past 8192 by itself, and the page
        # ended with batch 9xxx's own loss): 88 samples, enough passes for 9002 batches.
        proc = subprocess.Popen([surge, "run", yaml, f"study.output_dir={out}", "--serve",
                                 "--serve-linger", "300", "--no-plots",
                                 "reservoir.parameters.extra_passes=2000",
                                 "training.max_batches=9002"], stdout=f, stderr=f,
                                stdin=subprocess.DEVNULL)
    try:
        url = url_of(log, proc)
        url_file = os.path.join(out, "live_url")
        mode = stat.S_IMODE(os.stat(url_file).st_mode)
        if mode != 0o600:
            fail(f"{url_file} has mode {oct(mode)}, not 0600")
        expect_equal("live_url", open(url_file).read().strip(), url)
        check_token_refused(url)
        screenshot(workdir, url, "live_run.png")
        check_finished_page(proc, url, out, "run", workdir)
    finally:
        if proc.poll() is None:
            stop(proc, "surge run (lingering page)")
    view(surge, out, workdir)


def view(surge, out, workdir):
    log = os.path.join(workdir, "view.log")
    with open(log, "w") as f:
        proc = subprocess.Popen([surge, "view", out], stdout=f, stderr=f, stdin=subprocess.DEVNULL)
    try:
        url = url_of(log, proc)
        check_token_refused(url)
        check_dom_against_results(load_dom(workdir, url), os.path.join(out, "results.h5"), "view")
        screenshot(workdir, url, "live_view.png")
    finally:
        if proc.poll() is None:
            stop(proc, "surge view")


def expect_error(cmd, rc_expected, pattern, what):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    lines = [l for l in (done.stdout + done.stderr).splitlines() if re.search(pattern, l)]
    if done.returncode != rc_expected or len(lines) != 1:
        fail(f"{what}: exit {done.returncode} (expected {rc_expected}), lines matching "
             f"{pattern!r}: {lines}\n{done.stdout}{done.stderr}")
    print(f"ok: {what}: {lines[0].strip()}")
    return done


def errors(surge, yaml, workdir):
    expect_error([surge, "view", os.path.join(workdir, "nothing")], 2,
                 r"^surge: config error: no results\.h5 in '.*nothing', and no study checkpoint", "surge view without results.h5")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    out = os.path.join(workdir, "out")
    # The page fails, the study does not: one line, exit 0, results written.
    expect_error([surge, "run", yaml, f"study.output_dir={out}", f"--serve=127.0.0.1:{port}",
                  "--no-plots", "training.max_batches=50"], 0,
                 rf"cannot serve the live page: port {port} on 127\.0\.0\.1 is in use; the study "
                 "goes on without it", "surge run --serve on a port in use")
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        expect_equal("batches of the study whose page failed", int(f.attrs["batches"]), 50)
    if os.path.exists(os.path.join(out, "live_url")):
        fail("a page that was not served left a live_url")
    expect_error([surge, "view", out, f"--serve=127.0.0.1:{port}"], 1,
                 rf"cannot serve the live page: port {port} on 127\.0\.0\.1 is in use( \[[^\]]*\])?$",
                 "surge view on a port in use")
    expect_error([surge, "view", out, "--serve=192.0.2.1:0"], 1,
                 r"cannot serve the live page: 192\.0\.2\.1 is not an address of this machine( \[[^\]]*\])?$",
                 "surge view on an interface that is not this machine's")
    expect_error([surge, "view", out, "--serve=no-such-interface.invalid:0"], 1,
                 r"cannot serve the live page: 'no-such-interface\.invalid' is not an interface "
                 "address or host name", "surge view on a name that is no interface")
    expect_error([surge, "view", out, "--serve=127.0.0.1:http"], 2,
                 r"--serve=127\.0\.0\.1:http: the port must be a number", "a port that is no number")
    busy.close()


def complete_checkpoints(out):
    d = os.path.join(out, "checkpoints")
    names = os.listdir(d) if os.path.isdir(d) else []
    return sorted((n for n in names if re.fullmatch(r"study_\d+", n)), key=lambda n: int(n[6:]))


def crashed(surge, yaml, workdir):
    out = os.path.join(workdir, "crashed")
    with open(os.path.join(workdir, "crashed.log"), "w") as f:
        proc = subprocess.Popen([surge, "run", yaml, f"study.output_dir={out}", "--no-plots",
                                 "study.checkpoint_every_s=0.3", "streaming.server_timeout_s=3"],
                                stdout=f, stderr=f, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        wait_for("second study checkpoint", lambda: len(complete_checkpoints(out)) >= 2, 300, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if os.path.exists(os.path.join(out, "results.h5")):
        fail("the killed study wrote results.h5")
    latest = os.path.join(out, "checkpoints", complete_checkpoints(out)[-1])
    with h5py.File(os.path.join(latest, "study.h5"), "r") as f:
        batch = int(f.attrs["batch"])
        last_batch = int(f["training/batch"][-1])
        loss = float(f["training/loss"][-1])
        status = list(f["members/status"][:])
        ranks = int(f.attrs["server_ranks"])
    samples = 0
    for k in range(ranks):
        with h5py.File(os.path.join(latest, f"rank{k}.h5"), "r") as f:
            samples += int(f["reception/step_counts"][:].sum())
    log = os.path.join(workdir, "view_crashed.log")
    with open(log, "w") as f:
        view_proc = subprocess.Popen([surge, "view", out], stdout=f, stderr=f,
                                     stdin=subprocess.DEVNULL)
    try:
        url = url_of(log, view_proc)
        dom = load_dom(workdir, url)
        expect_equal("batches", int(dom.text["batches"]), batch)
        expect_equal("the loss chart's last batch", int(float(dom.attrs["loss-chart"]["data-last-x"])),
                     last_batch)
        page_loss = float(dom.attrs["loss-chart"]["data-last"])
        if abs(page_loss - loss) > 1e-12 * abs(loss):
            fail(f"the loss chart ends at {page_loss!r}, the checkpoint at {loss!r}")
        members = dom.attrs["members-chart"]
        for k, name in enumerate(STATUSES):
            expect_equal(f"members {name}", int(members[f"data-{name}"]), status.count(k))
        expect_equal("samples received", int(dom.text["samples-in"]), samples)
        expect_equal("status", dom.text.get("status"), "ended without results: its latest checkpoint")
        reason = dom.text.get("stop-reason", "")
        if "no results.h5" not in reason or f"batch {batch}" not in reason:
            fail(f"the page's stop reason does not say what it shows: {reason!r}")
        screenshot(workdir, url, "live_view_crashed.png")
    finally:
        if view_proc.poll() is None:
            stop(view_proc, "surge view")
    print(f"ok: surge view of the killed study shows its checkpoint at batch {batch}: loss "
          f"{loss:.6e}, {samples} samples received, {len(status)} members")


def train(surge, _yaml, workdir):
    files = []
    for k, (ic, b1) in enumerate([(150, 200), (250, 400), (350, 150), (450, 300)]):
        files.append(f"m{k}.h5")
        subprocess.run([surge, "solve", "heat2d", "nx=16", "ny=16", "n_outputs=10", "t_end=0.05",
                        f"ic={ic}", f"b1={b1}", "--out", files[-1], "--log-level", "warn"],
                       cwd=workdir, check=True, stdin=subprocess.DEVNULL)
    with open(os.path.join(workdir, "train.yaml"), "w") as f:
        f.write(f"""study: {{name: offline_page, output_dir: trained}}
data: {{train: [{", ".join(files[1:])}], validation: [{files[0]}]}}
reservoir: {{type: reservoir, parameters: {{capacity: 200, watermark: 8, batch_size: 8, extra_passes: 40}}}}
model: {{type: mlp, parameters: {{hidden: [32]}}}}
training: {{optimizer: {{type: adam, lr: 0.003}}, max_batches: 300, validate_every: 50}}
""")
    out = os.path.join(workdir, "trained")
    log = os.path.join(workdir, "train.log")
    with open(log, "w") as f:
        proc = subprocess.Popen([surge, "train", "train.yaml", "--serve", "--serve-linger", "300",
                                 "--no-plots"], cwd=workdir, stdout=f, stderr=f,
                                stdin=subprocess.DEVNULL)
    try:
        url = url_of(log, proc)
        check_token_refused(url)
        check_finished_page(proc, url, out, "train", workdir)
    finally:
        if proc.poll() is None:
            stop(proc, "surge train (lingering page)")


def main():
    modes = {"study": study, "errors": errors, "crashed": crashed, "train": train}
    if len(sys.argv) != 4 or sys.argv[1] not in modes:
        fail(__doc__)
    if sys.argv[1] != "errors" and shutil.which("chromium") is None:
        print("SKIP: chromium is not installed (scripts/install-deps.sh installs it)")
        sys.exit(77)
    workdir = tempfile.mkdtemp(prefix="surge-live-")
    try:
        modes[sys.argv[1]](sys.argv[2], sys.argv[3], workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
