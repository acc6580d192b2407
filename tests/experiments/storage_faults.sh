#!/usr/bin/env bash
# Storage faults: surge's commands with their output on a small file system, sized so that
# the disk fills up while one kind of file is written. Every such run exits 1 with one line
# naming the file and the OS error, crashes not, leaves no temporary and no incomplete file
# under a final name, and keeps what was complete before (for a study: the checkpoint and the
# model when results.h5 fails).
#
# usage: storage_faults.sh <surge> <study.yaml> <check_complete.py> <workdir> <case>
#   reference                  the study, a member and a prediction on the ordinary disk:
#                              the sizes the other cases size their file systems from
#   checkpoint, model, results `surge run` with the disk full at that file
#   member                     `surge solve` with the disk full at its member file
#   predict                    `surge predict` with the disk full at its output
#   unwritable                 `surge run` into a read-only file system: one line, nothing
#                              started
#   readonly_results           `surge run --overwrite` over a read-only results.h5: one line,
#                              the file kept
# The file systems are tmpfs mounts, which need root: elsewhere a case is skipped (exit 77).
set -u
surge=$1 study=$2 checker=$3 work=$4 case=$5
ref=$work/reference
tmp=$(mktemp -d)
mnt=$tmp/fs
cleanup() {
  if mountpoint -q "$mnt"; then umount "$mnt" || umount -l "$mnt"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL ($case): $*"
  for f in "$tmp/stderr" "$tmp/stdout"; do
    [[ -s $f ]] && { echo "--- ${f##*/}"; tail -20 "$f"; }
  done
  exit 1
}
skip() { echo "skipped ($case): $*"; exit 77; }

# A 64 x 64 heat2d member of 21 frames; the study's model predicted at 100 times.
member_args=(solve heat2d nx=64 ny=64 n_outputs=20)
predict_args=(ic=300 b1=200 b2=400 b3=150 b4=450 alpha=1 "t=[$(seq -s, 0.0005 0.0005 0.05)]")

# KiB that the files under $1 take on a tmpfs (whole 4 KiB pages).
kib() {
  find "$1" -type f -printf '%s\n' | awk '{ k += int(($1 + 4095) / 4096) * 4 } END { print k + 0 }'
}
mount_small() {
  [[ $(id -u) -eq 0 ]] || skip "mounting a small tmpfs needs root"
  mkdir -p "$mnt"
  mount -t tmpfs -o "size=$1k" tmpfs "$mnt" 2>"$tmp/mount.err" ||
    skip "cannot mount a tmpfs: $(cat "$tmp/mount.err")"
}
sizes() {
  [[ -f $work/sizes.env ]] || fail "no $work/sizes.env: run the reference case first"
  source "$work/sizes.env"
}
run() {
  "$surge" "$@" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
  rc=$?
}
study_run() { run run "$study" study.output_dir="$1" --no-plots --log-level off "${@:2}"; }
one_line() {
  grep -Eq 'Signal|Segmentation|terminate called|core dumped|Abort|frame #' "$tmp/stderr" &&
    fail "crashed (exit $rc)"
  [[ $(grep -c . "$tmp/stderr") -eq 1 ]] || fail "expected exactly one line on stderr"
  grep -Eq -- "$1" "$tmp/stderr" || fail "stderr does not match '$1'"
}
# The run failed on the full disk while writing $1: exit 1, one line naming it and the error,
# no temporary left, every file left complete.
expect_full() {
  [[ $rc -eq 1 ]] || fail "exit code $rc, expected 1"
  one_line "^surge: I/O error: cannot write '$1': No space left on device"
  [[ -z $(find "$mnt" -name 'core*' -print -quit) ]] || fail "a core dump"
  /usr/bin/python3 "$checker" "$mnt" --reference "$ref" >"$tmp/check" || fail "$(cat "$tmp/check")"
  echo "ok ($case): $(cat "$tmp/stderr")"
}
# The run was refused before anything started: one line matching $1, nothing created.
expect_refused() {
  [[ $rc -ne 0 ]] || fail "exit code 0"
  one_line "$1"
  echo "ok ($case, exit $rc): $(cat "$tmp/stderr")"
}

case $case in
  reference | readonly_results) ;;
  *) [[ $(id -u) -eq 0 ]] || skip "mounting a small tmpfs needs root" ;;
esac
out=$mnt/out
case $case in
  reference)
    rm -rf "$ref" && mkdir -p "$ref"
    study_run "$ref/out"
    [[ $rc -eq 0 ]] || fail "the study failed (exit $rc)"
    run "${member_args[@]}" --out "$ref/member.h5"
    [[ $rc -eq 0 ]] || fail "surge solve failed (exit $rc)"
    run predict "$ref/out/model" "${predict_args[@]}" --out "$ref/prediction.h5"
    [[ $rc -eq 0 ]] || fail "surge predict failed (exit $rc)"
    for f in out/results.h5 out/model/model.pt out/checkpoints/checkpoint_5.pt member.h5 \
      prediction.h5; do
      [[ -f $ref/$f ]] || fail "the reference has no $f"
    done
    /usr/bin/python3 "$checker" "$ref" >"$tmp/check" || fail "$(cat "$tmp/check")"
    echo "logs=$(kib "$ref/out/logs") checkpoint=$(kib "$ref/out/checkpoints/checkpoint_5.pt")" \
      "model=$(kib "$ref/out/model") results=$(kib "$ref/out/results.h5")" \
      "member=$(kib "$ref/member.h5") prediction=$(kib "$ref/prediction.h5")" >"$work/sizes.env"
    echo "ok (reference): $(cat "$work/sizes.env") (KiB)"
    ;;
  checkpoint)
    sizes
    mount_small $((logs + checkpoint / 2))
    study_run "$out"
    expect_full "$out/checkpoints/checkpoint_5.pt"
    [[ ! -e $out/model && ! -e $out/results.h5 ]] || fail "written on after the failure"
    ;;
  model)
    sizes
    mount_small $((logs + checkpoint + model / 2))
    study_run "$out"
    expect_full "$out/model/model.pt"
    [[ -f $out/checkpoints/checkpoint_5.pt ]] || fail "the checkpoint did not survive"
    [[ ! -e $out/model && ! -e $out/results.h5 ]] || fail "a model or results.h5 was left"
    ;;
  results)
    sizes
    mount_small $((logs + checkpoint + model + results / 2))
    study_run "$out"
    expect_full "$out/results.h5"
    [[ -f $out/checkpoints/checkpoint_5.pt && -f $out/model/model.pt ]] ||
      fail "the checkpoint and the model did not survive"
    [[ ! -e $out/results.h5 ]] || fail "results.h5 was left"
    ;;
  member)
    sizes
    mount_small $((member / 2))
    run "${member_args[@]}" --out "$mnt/member.h5" --log-level off
    expect_full "$mnt/member.h5"
    [[ ! -e $mnt/member.h5 ]] || fail "member.h5 was left"
    ;;
  predict)
    sizes
    mount_small $((prediction / 2))
    run predict "$ref/out/model" "${predict_args[@]}" --out "$mnt/prediction.h5" --log-level off
    expect_full "$mnt/prediction.h5"
    [[ ! -e $mnt/prediction.h5 ]] || fail "prediction.h5 was left"
    ;;
  unwritable)
    mount_small 1024
    mkdir "$out"
    mount -o remount,ro "$mnt" || skip "cannot remount the tmpfs read-only"
    study_run "$out"
    expect_refused "^surge: .*study.output_dir '$out' is not writable: Read-only file system"
    study_run "$mnt/new"
    expect_refused "^surge: .*study.output_dir '$mnt/new' cannot be created in '$mnt': Read-only"
    ;;
  readonly_results)
    mkdir -p "$tmp/out/logs"
    echo "an earlier study's results" >"$tmp/out/results.h5"
    chmod a-w "$tmp/out/results.h5"
    study_run "$tmp/out" --overwrite
    expect_refused "^surge: .*'$tmp/out/results.h5' is read-only"
    [[ $(cat "$tmp/out/results.h5") == "an earlier study's results" ]] || fail "results.h5 changed"
    [[ $(ls "$tmp/out") == $'logs\nresults.h5' ]] || fail "the output directory was changed"
    ;;
  *)
    fail "unknown case"
    ;;
esac
