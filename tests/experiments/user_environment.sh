#!/usr/bin/env bash
# Issue 32: a member of an external solver runs in the user's environment. From a directory
# other than the experiment file's:
#   1. `surge run` of a study whose command is [python3, "{experiment_dir}/faulty_member.py"],
#      with the user's own `python3` first on PATH (a wrapper, as a venv's or conda's is): every
#      member runs that python3 (not /usr/bin's, which Open MPI's --prefix would put first),
#      sees surge run's PATH first, may run on every core surge run may (each member is its own
#      mpirun, which would bind them all to core 0), and the study completes with exact counts;
#   2. `--dry-run` of the study with a relative program (tools/python3, next to the experiment
#      file): found from the experiment file's directory, made absolute in the resolved
#      configuration;
#      and, on a node without a fabric device under Open MPI, gets OMPI_MCA_pml=ob1 (an external
#      solver's MPI_Init skips the PSM/OFI libraries' hardware search) unless the user set one;
#   1b. the same with launcher.parameters.member_cores=1: every member on surge run's first core;
#   3. a relative program that is not there: exit 2 (a configuration error), the message
#      names the directory searched.
# usage: user_environment.sh <surge> <source dir>
set -euo pipefail
surge=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
export SURGE_TEST_TMP=$tmp/scratch
mkdir -p "$tmp/study/tools" "$tmp/bin" "$tmp/elsewhere" "$SURGE_TEST_TMP"
ln -s "$src/tests/experiments/faulty_member.py" "$tmp/study/faulty_member.py"
# The user's python3: marks each member that runs it, with the PATH the member was given.
cat >"$tmp/bin/python3" <<'WRAPPER'
#!/bin/sh
echo "$PATH" >"$SURGE_TEST_TMP/user_python_$SURGE_SIMULATION_ID"
awk '/^Cpus_allowed_list/ {print $2}' /proc/$$/status >"$SURGE_TEST_TMP/user_cpus_$SURGE_SIMULATION_ID"
echo "${OMPI_MCA_pml:-unset}" >"$SURGE_TEST_TMP/user_pml_$SURGE_SIMULATION_ID"
exec /usr/bin/python3 "$@"
WRAPPER
chmod +x "$tmp/bin/python3"
cp "$tmp/bin/python3" "$tmp/study/tools/python3"
sed -e 's|command: \[/usr/bin/python3,|command: [python3,|' \
  -e 's|output_dir: external_faults_out|output_dir: out|' \
  "$src/tests/experiments/external_faults.yaml" >"$tmp/study/study.yaml"
grep -q 'command: \[python3, "{experiment_dir}/faulty_member.py"' "$tmp/study/study.yaml" ||
  fail "the study's command is not [python3, {experiment_dir}/...]: $(grep command: "$tmp/study/study.yaml")"
unset SURGE_TEST_FAULTS
cd "$tmp/elsewhere"
export PATH=$tmp/bin:$PATH
cpus=$(awk '/^Cpus_allowed_list/ {print $2}' /proc/$$/status)
# What a member's OMPI_MCA_pml should be (core::mpi_start_environment), judged here on its own.
pml=${OMPI_MCA_pml:-unset}
fabric=$(ls -d /sys/class/infiniband/* /sys/class/cxi/* /dev/hfi1* /dev/ipath* 2>/dev/null || true)
if [[ -z ${OMPI_MCA_pml:-} && -z ${OMPI_MCA_mtl:-} && -z $fabric ]] &&
  mpirun --version 2>&1 | grep -q "Open MPI"; then
  pml=ob1
fi
"$surge" run ../study/study.yaml study.output_dir="$tmp/out" </dev/null
/usr/bin/python3 "$src/tests/experiments/check_results.py" "$tmp/out" 10 0:1 1:1 2:1 3:1 4:1 5:1 \
  6:1 7:1 8:1 parameter_order=vx,kappa
for id in 0 1 2 3 4 5 6 7 8; do
  marker=$SURGE_TEST_TMP/user_python_$id
  [[ -f $marker ]] || fail "member $id did not run the user's python3 ($tmp/bin/python3)"
  [[ $(cut -d: -f1 <"$marker") == "$tmp/bin" ]] ||
    fail "member $id's PATH does not start with surge run's ($tmp/bin): $(cat "$marker")"
  [[ $(cat "$SURGE_TEST_TMP/user_cpus_$id") == "$cpus" ]] ||
    fail "member $id may run on cores $(cat "$SURGE_TEST_TMP/user_cpus_$id"), surge run on $cpus"
  [[ $(cat "$SURGE_TEST_TMP/user_pml_$id") == "$pml" ]] ||
    fail "member $id has OMPI_MCA_pml=$(cat "$SURGE_TEST_TMP/user_pml_$id"), expected $pml"
done
echo "ok: 9 members ran $tmp/bin/python3 with surge run's PATH first, on cores $cpus, OMPI_MCA_pml $pml"

# launcher.parameters.member_cores=1: the members on surge run's first core, and surge run
# says so (on a one-core machine: a warning, and all share it); training.threads 2 x 1 is
# more than the trainer's one core left, which surge run warns of.
rm -f "$SURGE_TEST_TMP"/user_cpus_*
"$surge" run ../study/study.yaml study.output_dir="$tmp/out1" launcher.parameters.member_cores=1 \
  "training.threads={intra_op: 2, blas: 1}" </dev/null >"$tmp/cores.log" 2>&1 || fail "member_cores=1: $(tail -5 "$tmp/cores.log")"
first=$(cut -d, -f1 <<<"$cpus" | cut -d- -f1)
want=$first
[[ $cpus == "$first" ]] && want=$cpus
for id in 0 1 2 3 4 5 6 7 8; do
  [[ $(cat "$SURGE_TEST_TMP/user_cpus_$id") == "$want" ]] ||
    fail "member_cores=1: member $id may run on cores $(cat "$SURGE_TEST_TMP/user_cpus_$id"), expected $want"
done
if [[ $want != "$cpus" ]]; then
  grep -q "members on cores $first, the trainer on " "$tmp/cores.log" ||
    fail "member_cores=1: surge run did not say where members run: $(grep -m3 'r0 run' "$tmp/cores.log")"
  [[ $(nproc) -ne 2 ]] || grep -q "threads.intra_op \* threads.blas = 2 exceeds the 1 cores of this rank" "$tmp/cores.log" ||
    fail "member_cores=1 on 2 cores: no warning that 2 x 1 trainer threads exceed its core: $(grep -m3 'r0 run' "$tmp/cores.log")"
fi
echo "ok: member_cores=1 ran the 9 members on core $want of $cpus"

sed -i 's|command: \[python3,|command: [tools/python3,|' "$tmp/study/study.yaml"
resolved=$("$surge" run ../study/study.yaml study.output_dir="$tmp/out2" --dry-run </dev/null)
grep -Fq -- "$tmp/study/tools/python3" <<<"$resolved" ||
  fail "tools/python3 is not resolved to $tmp/study/tools/python3: $(grep -A2 command <<<"$resolved")"
echo "ok: tools/python3 resolved from the experiment file's directory"

sed -i 's|command: \[tools/python3,|command: [tools/nothing,|' "$tmp/study/study.yaml"
set +e
"$surge" run ../study/study.yaml study.output_dir="$tmp/out3" --dry-run >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "a missing relative program: exit code $rc, expected 2 (a configuration error)"
want="solver.parameters.command: 'tools/nothing' is not an executable (a relative path is taken from the experiment file's directory $tmp/study; a bare name is looked up on PATH)"
grep -Fq -- "$want" "$tmp/stderr" || fail "expected '$want' in: $(cat "$tmp/stderr")"
echo "ok: a missing relative program is named with the directory searched (exit 2)"
