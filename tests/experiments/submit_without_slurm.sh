#!/usr/bin/env bash
# `surge submit` where no Slurm controller answers: SLURM_CONF names a controller on a local
# port nothing listens on, so sbatch --test-only fails at once with "Unable to contact slurm
# controller". With --dry-run the batch scripts are printed (mode jobs: the server's and a
# member's; mode allocation: the server's), stderr is one line saying what was not checked,
# the exit code is 0, and nothing is created. Without --dry-run, and for surge run, it is one
# line naming the unreachable controller, exit code 2, nothing created.
# usage: submit_without_slurm.sh <surge> <experiment.yaml>
# First where Slurm is not installed at all (a laptop: PATH holds Open MPI only), then, where
# sbatch is installed, with a controller that does not answer. Exits 77 (ctest
# SKIP_RETURN_CODE) after the first part when sbatch is not installed.
set -u
surge=$1 yaml=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  for f in "$tmp"/stdout "$tmp"/stderr; do [[ -f $f ]] && { echo "--- $f"; cat "$f"; }; done
  exit 1
}
cat >"$tmp/slurm.conf" <<'EOF'
ClusterName=nowhere
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=1
MessageTimeout=1
TCPTimeout=1
NodeName=n1 CPUs=1 State=UNKNOWN
PartitionName=p Nodes=n1 Default=YES
EOF
out=$tmp/out
unreachable="no Slurm controller answers.*Unable to contact slurm controller"

# <command> <mode> <exit code> <stderr regex>: the exit code, one line on stderr matching the
# regex, no output directory.
expect() {
  local command=$1 mode=$2 code=$3 regex=$4
  shift 4
  PATH=${SURGE_PATH:-$PATH} "$surge" "$command" "$yaml" launcher.type=slurm "launcher.parameters.mode=$mode" \
    "study.output_dir=$out" "$@" </dev/null >"$tmp/stdout" 2>"$tmp/stderr"
  local rc=$?
  [[ $rc -eq $code ]] || fail "surge $command (mode $mode) $* exited with $rc, expected $code"
  [[ $(wc -l <"$tmp/stderr") -eq 1 ]] || fail "surge $command (mode $mode) $*: not one line"
  grep -Eq -- "$regex" "$tmp/stderr" || fail "surge $command (mode $mode) $*: not /$regex/"
  [[ ! -e $out ]] || fail "surge $command (mode $mode) $* created $out"
}

# No Slurm installed: the scripts all the same, one line saying sbatch is missing; without
# --dry-run (and for surge run) one error naming the missing program.
# PATH: Open MPI's programs only (mpirun; orted, and ssh where installed, which Open MPI's
# singleton start looks for).
mkdir "$tmp/bin"
for program in mpirun orted orterun ssh rsh; do
  if command -v "$program" >/dev/null; then ln -s "$(command -v "$program")" "$tmp/bin/$program"; fi
done
no_sbatch="sbatch is not installed here \\(slurm-client\\)"
SURGE_PATH=$tmp/bin expect submit jobs 0 "^surge submit --dry-run: not checked: whether Slurm takes the server's job and the member jobs \(sbatch --test-only: $no_sbatch\)$" --dry-run
[[ $(grep -c "^#!/bin/bash$" "$tmp/stdout") -eq 2 ]] || fail "no Slurm: not 2 scripts in mode jobs"
SURGE_PATH=$tmp/bin expect submit allocation 0 "^surge submit --dry-run: not checked: whether Slurm takes the allocation's job \(sbatch --test-only: $no_sbatch\)$" --dry-run
[[ $(grep -c "^#!/bin/bash$" "$tmp/stdout") -eq 1 ]] || fail "no Slurm: not 1 script in mode allocation"
SURGE_PATH=$tmp/bin expect submit jobs 2 "^surge: config error: launcher.type slurm: 'sbatch' is not on PATH \(install slurm-client"
SURGE_PATH=$tmp/bin expect run jobs 2 "^surge: config error: launcher.type slurm: 'sbatch' is not on PATH"
echo "ok: no Slurm installed: scripts printed, one 'not checked' line, exit 0; without --dry-run one error, exit 2"

command -v sbatch >/dev/null || { echo "SKIP: sbatch is not installed (apt-get install slurm-client): the unreachable controller was not tried"; exit 77; }
export SLURM_CONF=$tmp/slurm.conf
expect submit jobs 0 "^surge submit --dry-run: not checked: whether Slurm takes the server's job and the member jobs \(sbatch --test-only: $unreachable" --dry-run
grep -q "^#SBATCH --job-name=surge-e2e-server$" "$tmp/stdout" || fail "no server script"
grep -q "^exec .* run .*experiment.yaml --overwrite$" "$tmp/stdout" || fail "no server command"
grep -q "^#SBATCH --no-requeue$" "$tmp/stdout" || fail "no member script"
grep -Eq "^exec .*(surge-solve| solve) heat2d" "$tmp/stdout" || fail "no member command"
scripts=$(grep -c "^#!/bin/bash$" "$tmp/stdout")
[[ $scripts -eq 2 ]] || fail "$scripts scripts printed in mode jobs, expected 2"

expect submit allocation 0 "^surge submit --dry-run: not checked: whether Slurm takes the allocation's job \(sbatch --test-only: $unreachable" --dry-run
scripts=$(grep -c "^#!/bin/bash$" "$tmp/stdout")
[[ $scripts -eq 1 ]] || fail "$scripts scripts printed in mode allocation, expected 1"
grep -q "^#SBATCH --job-name=surge-e2e-server$" "$tmp/stdout" || fail "no allocation script"

# Without --dry-run, an unreachable Slurm is one clear error.
expect submit jobs 2 "^surge: config error: launcher.type slurm: $unreachable.*--dry-run"
[[ ! -s $tmp/stdout ]] || fail "surge submit printed $(cat "$tmp/stdout")"
expect run jobs 2 "^surge: config error: launcher.type slurm: $unreachable"
echo "ok: surge submit --dry-run without a Slurm controller: scripts printed (2 in mode jobs," \
  "1 in mode allocation), one 'not checked' line, exit 0; without --dry-run one error, exit 2"
