#!/usr/bin/python3
"""Checks a `surge run` output directory: every sample received exactly once, the loss went
down, every dataset of results.h5 is there, the per-member training losses account for every
sample trained on, the model and plots exist.

usage: check_results.py <output_dir> <frames per member> [ranks=P] [simulation_id:attempts ...]
                        [error:simulation_id=REGEX ...] [refused=N] [max_relative_l2=X]
                        [streaming:NAME=N ...] [redrawn:simulation_id ...]
                        [parameter_order=a,b,...] [stride=K]

With P server ranks (trainer replicas), the per-rank counts must add up to the members'
samples and every rank must have received samples and trained on them. A next_step model
(results.h5 attribute model_kind) must also have its rollout/ group: errors at every horizon
from 1 to the members' last frame, per channel, finite, and the rollout predictions.
error:ID=REGEX: members/last_error of simulation ID matches REGEX (why an attempt failed);
refused=N: the server refused N handshakes; max_relative_l2=X: the final validation error of
every channel is below X; streaming:NAME=N: results.h5 streaming/ attribute NAME is N;
redrawn:ID: simulation ID failed every attempt and was redrawn (every other member must be
done): the samples it made before it failed count, and a member in its place delivered all.
parameter_order=a,b: results.h5 members/parameters and the exported model (the order `surge
predict` uses) both list the parameters in this order, and each member's row holds the values
it was given (by name) on its command line, as the member wrote them to
$SURGE_TEST_TMP/parameters_<id> (faulty_member.py).
"""
import os
import re
import sys

import h5py
import numpy as np
import yaml


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def check_parameter_order(out, order):
    """results.h5, the model and what the members were given agree on one parameter order."""
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in f["members"].attrs["parameter_names"]]
        rows = f["members/parameters"][:]
        ids = f["members/simulation_id"][:]
    if names != order:
        fail(f"results.h5 members/parameters in the order {names}, expected {order}")
    with open(os.path.join(out, "model", "surrogate.yaml")) as y:
        inputs = [i["name"] for i in yaml.safe_load(y)["io"]["inputs"] if i["name"] != "t"]
    if inputs != order:
        fail(f"the model's inputs (surge predict's order) are {inputs}, expected {order}")
    checked = 0
    for sim, row in zip(ids, rows):
        given = os.path.join(os.environ.get("SURGE_TEST_TMP", ""), f"parameters_{sim}")
        if not os.path.exists(given):
            continue
        with open(given) as g:
            values = dict(kv.split("=") for kv in g.read().split())
        if not np.allclose(row, [float(values[n]) for n in order], rtol=1e-12, atol=0):
            fail(f"simulation {sim}: results.h5 has {list(row)}, its member was given {values}")
        checked += 1
    if checked != len(ids):
        fail(f"{len(ids) - checked} members wrote no parameters_<id> file")
    print(f"parameter order ok: {order} in results.h5, the model and {checked} members")


def check_member_losses(f, steps):
    """members/training_loss and trained_samples: the batches' items, every one booked once,
    none for validation members; final_validation/relative_l2_per_member: one row per
    validation member, whose mean is the whole set's (each member has `steps` samples)."""
    m = f["members"]
    for name in ["training_loss", "trained_samples", "fresh_loss_ratio"]:
        if name not in m:
            fail(f"results.h5 has no members/{name}")
    roles = [r.decode() if isinstance(r, bytes) else r for r in m.attrs["role"]]
    loss, trained = m["training_loss"][:], m["trained_samples"][:]
    fresh = m["fresh_loss_ratio"][:]
    validation = [i for i, r in enumerate(roles) if r == "validation"]
    for i in validation:
        if trained[i] != 0 or not np.isnan(loss[i]):
            fail(f"validation member {m['simulation_id'][i]} has a training loss "
                 f"({trained[i]} samples, {loss[i]})")
    booked = trained > 0
    if not np.all(np.isfinite(loss[booked]) & (loss[booked] >= 0)) or np.any(
            np.isfinite(loss[~booked])):
        fail(f"members/training_loss {list(loss)} for trained_samples {list(trained)}")
    if not np.all(np.isfinite(fresh[booked]) & (fresh[booked] >= 0)) or np.any(
            np.isfinite(fresh[~booked])):
        fail(f"members/fresh_loss_ratio {list(fresh)} for trained_samples {list(trained)}")
    gets = int(f["server_ranks/reservoir_gets"][:].sum())
    # A next_step item is a window of rollout_steps + 1 samples, all served by the buffer.
    window = 1
    if f.attrs["model_kind"] == "next_step":
        training = yaml.safe_load(f.attrs["surge_config"]).get("training", {})
        if "rollout_steps" not in training:
            fail("surge_config has no training.rollout_steps")
        window = int(training["rollout_steps"]) + 1
    if int(trained.sum()) * window != gets:
        fail(f"members/trained_samples sums to {int(trained.sum())} items of {window} samples, "
             f"the buffers served {gets} samples")
    fv = f["final_validation"]
    per = fv["relative_l2_per_member"][:]
    channels = len(fv["relative_l2"][:])
    ids = sorted(int(m["simulation_id"][i]) for i in validation)
    if per.shape != (len(ids), channels) or sorted(fv["simulation_id"][:].tolist()) != ids:
        fail(f"final_validation/relative_l2_per_member has shape {per.shape} for members "
             f"{list(fv['simulation_id'][:])}, expected {len(ids)} x {channels} for {ids}")
    if len(ids) and not np.allclose(per.mean(axis=0), fv["relative_l2"][:], rtol=1e-4):
        fail(f"the per-member errors average {list(per.mean(axis=0))}, the set's is "
             f"{list(fv['relative_l2'][:])}")


def main():
    out, steps = sys.argv[1], int(sys.argv[2])
    ranks = 1
    expected_attempts, expected_errors = {}, {}
    refused, max_rel = None, None
    streaming = {}
    redrawn = set()
    order = None
    stride = 1  # samples.stride of a next_step model: its rollout horizons are 1..(steps-1)//K
    for a in sys.argv[3:]:
        if a.startswith("ranks="):
            ranks = int(a[len("ranks="):])
        elif a.startswith("stride="):
            stride = int(a[len("stride="):])
        elif a.startswith("error:"):
            sim, _, text = a[len("error:"):].partition("=")
            expected_errors[int(sim)] = text
        elif a.startswith("refused="):
            refused = int(a[len("refused="):])
        elif a.startswith("streaming:"):
            name, _, n = a[len("streaming:"):].partition("=")
            streaming[name] = int(n)
        elif a.startswith("redrawn:"):
            redrawn.add(int(a[len("redrawn:"):]))
        elif a.startswith("parameter_order="):
            order = a[len("parameter_order="):].split(",")
        elif a.startswith("max_relative_l2="):
            max_rel = float(a[len("max_relative_l2="):])
        else:
            sim, n = map(int, a.split(":"))
            expected_attempts[sim] = n
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        for name in ["members/simulation_id", "members/attempts", "members/samples",
                     "members/parameters", "training/batch", "training/loss",
                     "training/learning_rate", "training/samples_per_s", "training/wall_time_s",
                     "validation/batch", "validation/relative_l2", "validation/nrmse",
                     "validation/vrmse", "final_validation/relative_l2",
                     "reservoir/occupancy_samples", "reservoir/seen_held",
                     "predictions/truth", "predictions/prediction",
                     "server_ranks/samples_received", "server_ranks/reservoir_puts",
                     "server_ranks/reservoir_rejected_puts", "server_ranks/reservoir_gets"]:
            if name not in f:
                fail(f"results.h5 has no {name}")
        # The streaming layer's counters (issue 14), one attribute per kind.
        if "streaming" not in f:
            fail("results.h5 has no streaming/ group")
        for attr in ["refused_bad_ticket", "refused_unknown_simulation",
                     "refused_wrong_announcement", "handshake_failures", "rejected_truncated",
                     "rejected_after_end", "rejected_pending_bytes", "rejected_duplicate",
                     "feeder_unknown_role", "feeder_duplicates"]:
            if attr not in f["streaming"].attrs:
                fail(f"results.h5 streaming/ has no attribute {attr}")
        for name, n in streaming.items():
            got = f["streaming"].attrs.get(name)
            if got is None or int(got) != n:
                fail(f"streaming/{name} = {got}, expected {n}")
        for attr in ["surge_config", "study", "stop_reason", "server_ranks", "model_kind"]:
            if attr not in f.attrs:
                fail(f"results.h5 has no attribute {attr}")
        channels = list(f["final_validation"].attrs["field_names"])
        if f.attrs["model_kind"] == "next_step":
            for name in ["rollout/horizon", "rollout/relative_l2", "rollout/vrmse",
                         "rollout/nrmse", "rollout/time"]:
                if name not in f:
                    fail(f"results.h5 has no {name}")
            horizon = f["rollout/horizon"][:]
            horizons = (steps - 1) // stride
            if list(horizon) != list(range(1, horizons + 1)):
                fail(f"rollout horizons {list(horizon)}, expected 1..{horizons}")
            rel = f["rollout/relative_l2"][:]
            if rel.shape != (horizons, len(channels)) or not np.all(np.isfinite(rel)):
                fail(f"rollout/relative_l2 has shape {rel.shape} or non-finite values")
            if f["predictions/prediction"].shape[1:3] != (horizons + 1, len(channels)):
                fail(f"rollout predictions of shape {f['predictions/prediction'].shape}")
        m = f["members"]
        status = [s.decode() if isinstance(s, bytes) else s for s in m.attrs["status"]]
        ids, samples, attempts = m["simulation_id"][:], m["samples"][:], m["attempts"][:]
        done = [i for i, s in enumerate(status) if s == "done"]
        gone = [i for i, s in enumerate(status) if s == "redrawn"]
        if {int(ids[i]) for i in gone} != redrawn or len(done) + len(gone) != len(status):
            fail(f"members {list(map(int, ids))} are {status}; expected every member done "
                 f"but {sorted(redrawn)} redrawn")
        for i in gone:
            if samples[i] >= steps:
                fail(f"redrawn simulation {ids[i]} delivered {samples[i]} of {steps} samples")
        # Every output of every member exactly once: duplicates would push a count past steps.
        for i in done:
            if samples[i] != steps:
                fail(f"simulation {ids[i]} delivered {samples[i]} samples, expected {steps}")
        for sim, n in expected_attempts.items():
            k = list(ids).index(sim)
            if attempts[k] != n:
                fail(f"simulation {sim} took {attempts[k]} attempts, expected {n}")
        errors = [e.decode() if isinstance(e, bytes) else e for e in m.attrs["last_error"]]
        for sim, text in expected_errors.items():
            k = list(ids).index(sim)
            if not re.search(text, errors[k]):
                fail(f"simulation {sim}'s last error is '{errors[k]}', expected /{text}/")
        if refused is not None and f.attrs["refused_handshakes"] != refused:
            fail(f"{f.attrs['refused_handshakes']} handshakes refused, expected {refused}")
        rel = f["final_validation/relative_l2"][:]
        if max_rel is not None and not np.all(rel < max_rel):
            fail(f"final validation relative L2 {list(rel)}, expected below {max_rel}")
        res = f["reservoir"].attrs
        roles = [r.decode() if isinstance(r, bytes) else r for r in m.attrs["role"]]
        train = sum(samples[i] for i in done + gone if roles[i] == "train")
        if res["puts"] + res["rejected_puts"] != train:
            fail(f"the reservoir took {res['puts']} + refused {res['rejected_puts']} samples, "
                 f"training members delivered {train}")
        if f.attrs["server_ranks"] != ranks:
            fail(f"results.h5 says {f.attrs['server_ranks']} server ranks, expected {ranks}")
        per_rank = f["server_ranks"]
        received = per_rank["samples_received"][:]
        if len(received) != ranks:
            fail(f"server_ranks/samples_received has {len(received)} rows, expected {ranks}")
        if received.sum() != samples.sum():
            fail(f"the server ranks received {list(received)} samples, the members delivered "
                 f"{int(samples.sum())}")
        puts = per_rank["reservoir_puts"][:] + per_rank["reservoir_rejected_puts"][:]
        if puts.sum() != train:
            fail(f"the ranks' buffers took {list(puts)} samples, training members delivered {train}")
        gets = per_rank["reservoir_gets"][:]
        for k in range(ranks):
            if received[k] == 0 or gets[k] == 0:
                fail(f"server rank {k} received {received[k]} samples and trained on {gets[k]}: "
                     "every rank must train")
        check_member_losses(f, steps)
        loss = f["training/loss"][:]
        if len(loss) < 40:
            fail(f"only {len(loss)} training steps")
        first, last = np.mean(loss[:10]), np.mean(loss[-10:])
        if not last < 0.5 * first:
            fail(f"the loss did not go down: {first:.3g} -> {last:.3g}")
    for path in ["model/surrogate.yaml", "plots/training.png", "plots/prediction.png"]:
        if not os.path.exists(os.path.join(out, path)):
            fail(f"{path} is missing")
    if order is not None:
        check_parameter_order(out, order)
    print(f"ok: {len(done)} members, {int(sum(samples))} samples on {ranks} server rank(s) "
          f"{list(map(int, received))}, loss {first:.3g} -> {last:.3g}, validation relative L2 "
          f"{', '.join(f'{r:.3g}' for r in rel)}")


if __name__ == "__main__":
    main()
