#!/usr/bin/env bash
# A small study on a real one-node Slurm cluster (slurm_cluster.sh), checked as the local
# end-to-end tests are (check_results.py: every sample exactly once, falling loss, every
# output).
# usage: slurm_study.sh <surge> <experiment.yaml> <frames per member> <case> [key=value ...]
#   jobs        surge run here, every member attempt a batch job (sbatch, squeue, scontrol)
#   allocation  surge submit: the server's job is the allocation, members are srun steps
#               (with launcher.parameters.simulations_per_member=N: persistent workers)
#   cancel      as jobs, and a running member job is cancelled with scancel from outside:
#               it is resubmitted under the same simulation id (2 attempts)
#   interrupt   as jobs, interrupted (SIGINT) while member jobs run: they are cancelled
#   resume      surge submit in mode jobs, the server's processes SIGKILLed while member
#               jobs run and queue; surge resume cancels those and finishes the study
#   continuous  as allocation, a continuous ensemble (parameters.continuous) stopped by its
#               batch budget: members drawn past the first ones, counts exact
#               (check_continuous.py), no job left
#   checks      errors before anything starts (unknown partition, allocation mode outside
#               an allocation) and --dry-run printing the batch scripts without submitting
#   external    surge submit of mesh_fields.yaml (an external solver whose program and mesh
#               are relative to its file) in mode allocation
# Exits 77 (ctest SKIP_RETURN_CODE) with the reason when a cluster cannot start here.
set -u
surge=$1 yaml=$2 steps=$3 case=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
cluster=$here/slurm_cluster.sh
if ! reason=$("$cluster" why-not); then
  echo "SKIP: no Slurm cluster can start here: $reason"
  exit 77
fi
tmp=$(mktemp -d)
cleanup() { "$cluster" stop "$tmp/cluster"; rm -rf "$tmp"; }
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$tmp"/run.log "$tmp"/out/slurm/server_*.log "$tmp"/out/logs/member_0_attempt1.log; do
    [[ -f $f ]] && { echo "--- $f"; tail -40 "$f"; }
  done
  exit 1
}
mkdir -p "$tmp/cluster"
eval "$("$cluster" start "$tmp/cluster")" || fail "the cluster did not start"
out=$tmp/out
slurm=(launcher.type=slurm launcher.parameters.poll_interval_s=0.5 "study.output_dir=$out")

# No job of the study may be left in the queue once it is over.
expect_empty_queue() {
  for _ in $(seq 50); do
    [[ -z $(squeue -h -o %i) ]] && return 0
    sleep 0.2
  done
  fail "jobs left in the queue: $(squeue -h -o '%i %j %T' | tr '\n' ' ')"
}

# surge submit in mode allocation with the keys given; waits for the server's job ($job) to
# leave the queue and requires it COMPLETED.
submit_allocation() {
  "$surge" submit "$yaml" "${slurm[@]}" launcher.parameters.mode=allocation "$@" \
    </dev/null >"$tmp/run.log" 2>&1 || fail "surge submit exited with $?"
  job=$(sed -n 's/^surge submit: server job \([0-9]*\) submitted.*/\1/p' "$tmp/run.log")
  [[ -n $job ]] || fail "no job id in the output of surge submit"
  for _ in $(seq 1200); do
    [[ -z $(squeue -h -j "$job" -o %i 2>/dev/null) ]] && break
    sleep 0.25
  done
  state=$(scontrol show job -o "$job" | grep -o 'JobState=[A-Z_]*')
  [[ $state == JobState=COMPLETED ]] || fail "the server's job ended $state"
}

check() {
  # shellcheck disable=SC2086
  /usr/bin/python3 "$here/check_results.py" "$out" "$steps" "$@" || fail "check_results.py"
}

case $case in
  jobs)
    start=$SECONDS
    "$surge" run "$yaml" "${slurm[@]}" launcher.parameters.mode=jobs "$@" </dev/null \
      >"$tmp/run.log" 2>&1 || fail "surge run exited with $?"
    n=$(find "$out/slurm" -name "member_*_attempt1.sbatch" | wc -l)
    [[ $n -ge 10 ]] || fail "$n member batch scripts in $out/slurm"
    grep -q "^#SBATCH --no-requeue" "$out/slurm/member_0_attempt1.sbatch" || fail "script"
    # The member's admission ticket is in its script: readable by its owner only.
    grep -q "^export SURGE_MEMBER_TICKET=[0-9a-f]\{32\}$" "$out/slurm/member_0_attempt1.sbatch" ||
      fail "no ticket in the member's script"
    mode=$(stat -c %a "$out/slurm/member_0_attempt1.sbatch")
    [[ $mode == 600 ]] || fail "member script of mode $mode, expected 600"
    expect_empty_queue
    check
    echo "ok: mode jobs, $n member jobs, $((SECONDS - start)) s"
    ;;
  allocation)
    start=$SECONDS
    submit_allocation "$@"
    grep -q -- "--exact" "$out/slurm/server.sbatch" && fail "the server ran as a step"
    expect_empty_queue
    check
    workers=$(find "$out/logs" -name "worker_*.log" | wc -l)
    if [[ " $* " == *simulations_per_member=* ]]; then
      # Persistent workers as job steps: fewer steps than simulations, each fed on its stdin.
      [[ $workers -ge 1 && $workers -lt 10 ]] || fail "$workers workers for 10 simulations"
      grep -q "streamed $steps frames of simulation" "$out/logs/worker_0.log" || fail "worker 0"
    fi
    echo "ok: mode allocation, server job $job, $workers workers, $((SECONDS - start)) s"
    ;;
  external)
    # An external solver whose program ({experiment_dir}) and mesh are relative to its
    # experiment file: the server's job runs a copy in <output_dir>/slurm/, where they must
    # still be found.
    start=$SECONDS
    yaml=$here/mesh_fields.yaml
    submit_allocation "$@"
    grep -q "{experiment_dir}" "$out/slurm/experiment.yaml" && fail "a placeholder left in the copy"
    expect_empty_queue
    /usr/bin/python3 - "$out/results.h5" <<'PY' || fail "results of the external study"
import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    status = [s.decode() if isinstance(s, bytes) else s for s in f["members"].attrs["status"]]
    if status != ["done"] * len(status) or len(status) != 5:
        sys.exit(f"members {status}")
    if f["mesh/x"].shape != (217,):
        sys.exit(f"mesh/x of shape {f['mesh/x'].shape}")
PY
    echo "ok: an external solver's file-relative paths in a submitted study, $((SECONDS - start)) s"
    ;;
  continuous)
    start=$SECONDS
    submit_allocation parameters.continuous=true "parameters.sampler={type: halton}" \
      parameters.train_members=2 training.max_batches=150 "$@"
    expect_empty_queue
    result=$(/usr/bin/python3 "$here/check_continuous.py" "$out" "$steps" "batch budget spent" 4 \
      batches=150) || fail "$result"
    echo "$result; mode allocation, server job $job, $((SECONDS - start)) s"
    ;;
  cancel)
    start=$SECONDS
    "$surge" run "$yaml" "${slurm[@]}" launcher.parameters.mode=jobs "$@" </dev/null \
      >"$tmp/run.log" 2>&1 &
    server=$!
    # Cancel the first member job seen running; if it completed before scancel reached it,
    # try the next one.
    cancelled=""
    while [[ -z $cancelled ]] && kill -0 "$server" 2>/dev/null; do
      while read -r id name; do
        scancel "$id"
        for _ in $(seq 40); do
          st=$(scontrol show job -o "$id" | grep -o 'JobState=[A-Z_]*')
          [[ $st == JobState=RUNNING || $st == JobState=COMPLETING ]] || break
          sleep 0.1
        done
        if [[ $st == JobState=CANCELLED ]]; then
          cancelled=${name##*-}
          echo "cancelled job $id (simulation $cancelled)"
          break
        fi
      done < <(squeue -h -t RUNNING -o '%i %j')
      sleep 0.1
    done
    wait "$server" || fail "surge run exited with $?"
    [[ -n $cancelled ]] || fail "no member job was seen running"
    grep -q "CANCELLED" "$tmp/run.log" || fail "the log does not say the job was cancelled"
    expect_empty_queue
    check "$cancelled:2"
    echo "ok: cancelled simulation $cancelled was resubmitted, $((SECONDS - start)) s"
    ;;
  interrupt)
    # Ctrl-C while member jobs run: the study stops (exit 130, results written) and cancels
    # them with scancel, by job id.
    "$surge" run "$yaml" "${slurm[@]}" launcher.parameters.mode=jobs "$@" </dev/null \
      >"$tmp/run.log" 2>&1 &
    server=$!
    for _ in $(seq 600); do
      [[ -n $(squeue -h -t RUNNING -o %i) ]] && break
      sleep 0.1
    done
    running=$(squeue -h -o %i | tr '\n' ' ')
    [[ -n $running ]] || fail "no member job was seen running"
    kill -INT "$server"
    wait "$server"
    rc=$?
    [[ $rc -eq 130 ]] || fail "surge run exited with $rc after SIGINT, expected 130"
    grep -q "cancelling jobs" "$tmp/run.log" || fail "the server did not cancel its jobs"
    n=0
    for id in $running; do
      scontrol show job -o "$id" | grep -q 'JobState=CANCELLED' && n=$((n + 1))
    done
    [[ $n -ge 1 ]] || fail "none of the jobs $running was cancelled"
    expect_empty_queue
    [[ -f $out/results.h5 ]] || fail "no results.h5 after the interrupt"
    echo "ok: interrupted; $n of the jobs $running cancelled, none left"
    ;;
  resume)
    # The server of a job (surge submit, mode jobs) is SIGKILLed while member jobs run
    # and queue (one member fits the node at a time: 2 ranks x 7 CPUs). The jobs it left are
    # orphans; `surge resume` here cancels them (the study's journal slurm/member_jobs) before
    # it starts members of its own, and finishes the study: counts exact, no job left.
    start=$SECONDS
    "$surge" submit "$yaml" "${slurm[@]}" launcher.parameters.mode=jobs \
      launcher.parameters.max_concurrent=10 launcher.parameters.cpus_per_task=7 \
      study.checkpoint_every_s=0.5 study.wait_for_members=true training.max_batches=300 \
      streaming.server_timeout_s=600 "$@" </dev/null >"$tmp/run.log" 2>&1 ||
      fail "surge submit exited with $?"
    job=$(sed -n 's/^surge submit: server job \([0-9]*\) submitted.*/\1/p' "$tmp/run.log")
    [[ -n $job ]] || fail "no job id in the output of surge submit"
    members() { squeue -h -t "$1" -o '%i' | grep -vx "$job"; }
    for _ in $(seq 1200); do
      checkpoint=$(ls -d "$out"/checkpoints/study_[0-9]* 2>/dev/null | grep -v partial | head -1)
      [[ -n $checkpoint && -n $(members RUNNING) && -n $(members PENDING) ]] && break
      [[ -n $(squeue -h -j "$job" -o %i 2>/dev/null) ]] || fail "the server's job ended early"
      sleep 0.1
    done
    [[ -n $checkpoint ]] || fail "no study checkpoint was written"
    orphans=$(members RUNNING,PENDING | tr '\n' ' ')
    [[ -n $(members PENDING) ]] || fail "no member job was queued when the server was killed"
    # SIGKILL to the server's processes on the node (as the kernel's OOM killer or a lost
    # node would): no chance to cancel its members. (scancel --signal=KILL reaches the batch
    # shell, and Slurm then ends the rest of the job with SIGTERM, which the server handles.)
    pkill -KILL -f -- " run $out/slurm/experiment.yaml" || fail "no server process to kill"
    for _ in $(seq 200); do
      [[ -z $(squeue -h -j "$job" -o %i 2>/dev/null) ]] && break
      sleep 0.1
    done
    [[ -z $(squeue -h -j "$job" -o %i 2>/dev/null) ]] || fail "the server's job outlived SIGKILL"
    left=$(members RUNNING,PENDING | tr '\n' ' ')
    [[ -n $left ]] || fail "no member job outlived the server (orphans were $orphans)"
    echo "server job $job killed; member jobs left behind: $left"
    "$surge" resume "$out" </dev/null >"$tmp/run.log" 2>&1 || fail "surge resume exited with $?"
    grep -q "cancelling the [0-9]* member job(s) an earlier server of this study left" \
      "$tmp/run.log" || fail "surge resume did not cancel the jobs the dead server left"
    for id in $left; do
      state=$(scontrol show job -o "$id" | grep -o 'JobState=[A-Z_]*')
      [[ $state == JobState=CANCELLED || $state == JobState=COMPLETED ]] ||
        fail "orphan job $id ended $state"
    done
    expect_empty_queue
    check
    echo "ok: server job killed, $(wc -w <<<"$left") orphan jobs cancelled by surge resume," \
      "counts exact, $((SECONDS - start)) s"
    ;;
  checks)
    # Unknown partition: one line naming the key, nothing created.
    "$surge" run "$yaml" "${slurm[@]}" launcher.parameters.partition=nope </dev/null \
      >"$tmp/stdout" 2>"$tmp/stderr" && fail "an unknown partition was accepted"
    grep -q "launcher.parameters.partition: Slurm refuses a member job" "$tmp/stderr" ||
      fail "unknown partition: $(cat "$tmp/stderr")"
    [[ $(wc -l <"$tmp/stderr") -eq 1 && ! -e $out ]] || fail "unknown partition: $(cat "$tmp/stderr")"
    "$surge" submit "$yaml" "${slurm[@]}" launcher.parameters.server.partition=nope </dev/null \
      >"$tmp/stdout" 2>"$tmp/stderr" && fail "an unknown server partition was accepted"
    grep -q "launcher.parameters.server.partition: Slurm refuses the server's job" \
      "$tmp/stderr" || fail "unknown server partition: $(cat "$tmp/stderr")"
    # Mode allocation outside an allocation.
    env -u SLURM_JOB_ID "$surge" run "$yaml" "${slurm[@]}" launcher.parameters.mode=allocation \
      </dev/null >"$tmp/stdout" 2>"$tmp/stderr" && fail "mode allocation ran outside an allocation"
    grep -q "launcher.parameters.mode: allocation .*SLURM_JOB_ID is not set" "$tmp/stderr" ||
      fail "allocation outside: $(cat "$tmp/stderr")"
    # --dry-run prints the scripts and submits nothing.
    "$surge" submit "$yaml" "${slurm[@]}" --dry-run </dev/null >"$tmp/stdout" 2>"$tmp/stderr" ||
      fail "surge submit --dry-run: $(cat "$tmp/stderr")"
    grep -q "^#SBATCH --job-name=surge-e2e-server" "$tmp/stdout" || fail "no server script"
    grep -q "^exec .*surge-solve heat2d\\|^exec .* solve heat2d" "$tmp/stdout" ||
      fail "no member script: $(cat "$tmp/stdout")"
    [[ ! -e $out && -z $(squeue -h -o %i) ]] || fail "--dry-run created or submitted something"
    # A live Slurm was asked: nothing is left unchecked, and what it refuses is an error.
    grep -q "not checked" "$tmp/stderr" && fail "--dry-run with a live Slurm: $(cat "$tmp/stderr")"
    "$surge" submit "$yaml" "${slurm[@]}" launcher.parameters.server.partition=nope --dry-run \
      </dev/null >"$tmp/stdout" 2>"$tmp/stderr" && fail "--dry-run took an unknown partition"
    grep -q "launcher.parameters.server.partition: Slurm refuses the server's job" \
      "$tmp/stderr" || fail "--dry-run, unknown server partition: $(cat "$tmp/stderr")"
    echo "ok: checks (unknown partitions, allocation outside an allocation, --dry-run asking" \
      "Slurm)"
    ;;
  *) fail "unknown case '$case'" ;;
esac
