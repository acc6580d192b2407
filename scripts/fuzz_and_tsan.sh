#!/usr/bin/env bash
# Hostile-input checks that do not run in CI (issue 14):
#   (a) the streaming decoder's fuzz target (tests/streaming/fuzz_decoder.cpp) for a fixed
#       time: libFuzzer with ASan and UBSan when clang++ has it, else the same target under
#       a standalone mutation loop built with g++ -fsanitize=address,undefined;
#   (b) a ThreadSanitizer build in build-tsan/ of the streaming tests (loopback: front,
#       receivers and clients on their threads) and, with --study, of surge and three
#       studies: the two hostile-input ones (run_e2e_hostile_input, run_e2e_hostile_members)
#       and a redrawn member on 2 server ranks (run_e2e_member_redrawn_two_server_ranks: the
#       control thread frees the receiver's and the feeder's state), and surge train's tests
#       (its reader thread, on 1 and 2 processes, interrupted and resumed). Debian's
#       libzmq, libsodium, Open MPI and LibTorch are not instrumented: scripts/tsan.supp
#       suppresses what they report, and the studies run without TSan's mutex-misuse and
#       lock-order reports, which Open MPI's plugins trigger in every MPI process.
# usage: scripts/fuzz_and_tsan.sh [--fuzz-seconds N (300)] [--study] [--no-fuzz] [--no-tsan]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_seconds=300 study=0 fuzz=1 tsan=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --fuzz-seconds) fuzz_seconds=$2; shift ;;
    --study) study=1 ;;
    --no-fuzz) fuzz=0 ;;
    --no-tsan) tsan=0 ;;
    *) echo "unknown option $1 (see the head of $0)" >&2; exit 2 ;;
  esac
  shift
done
jobs=${JOBS:-2}
status=0

if [[ $fuzz -eq 1 ]]; then
  out=$root/build-fuzz
  mkdir -p "$out/corpus"
  src=$root/streaming/src
  sources=("$root/tests/streaming/fuzz_decoder.cpp" "$src/protocol.cpp" "$src/checksum.cpp"
           "$src/assembler.cpp" "$src/field_assembly.cpp")
  includes=(-I"$root/streaming/include" -I"$root/tests/streaming")
  clangxx=$(command -v clang++ || command -v clang++-14 || true)
  start=$(date +%s)
  if [[ -n $clangxx ]] && echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long){return 0;}' |
      "$clangxx" -x c++ -fsanitize=fuzzer - -o "$out/probe" 2>/dev/null; then
    echo "== fuzz: libFuzzer ($clangxx), ${fuzz_seconds} s"
    "$clangxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
      "${includes[@]}" "${sources[@]}" -lxxhash -o "$out/fuzz_streaming_decoder"
    "$out/fuzz_streaming_decoder" -max_total_time="$fuzz_seconds" -seed=1 -print_final_stats=1 \
      -artifact_prefix="$out/" "$out/corpus" 2>&1 | tail -15 || status=1
  else
    echo "== fuzz: no libFuzzer; standalone mutation loop (g++, ASan + UBSan), ${fuzz_seconds} s"
    cat >"$out/standalone_main.cpp" <<'EOF'
// Drives LLVMFuzzerTestOneInput with seeded random mutations of a few seed messages.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 60;
  std::mt19937_64 rng(1);
  std::vector<std::uint8_t> input;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::uint64_t runs = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 1000; ++i, ++runs) {
      if (input.empty() || rng() % 16 == 0) input.assign(1 + rng() % 512, 0);
      switch (rng() % 4) {
        case 0: input[rng() % input.size()] ^= std::uint8_t(1u << (rng() % 8)); break;
        case 1: input[rng() % input.size()] = std::uint8_t(rng()); break;
        case 2: input.resize(1 + rng() % (input.size() + 64)); break;
        default: input.insert(input.begin() + rng() % input.size(), std::uint8_t(rng()));
      }
      // The magic and version, often, so that inputs get past the first checks.
      if (input.size() > 7 && rng() % 2) {
        input[1] = 'S'; input[2] = 'R'; input[3] = 'G'; input[4] = 'E'; input[5] = 2; input[6] = 0;
      }
      LLVMFuzzerTestOneInput(input.data(), input.size());
    }
  }
  std::printf("standalone fuzz: %llu runs\n", static_cast<unsigned long long>(runs));
}
EOF
    g++ -std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
      "${includes[@]}" "${sources[@]}" "$out/standalone_main.cpp" -lxxhash -o "$out/fuzz_standalone"
    "$out/fuzz_standalone" "$fuzz_seconds" || status=1
  fi
  echo "== fuzz: $(( $(date +%s) - start )) s, exit status so far $status"
fi

if [[ $tsan -eq 1 ]]; then
  echo "== tsan: build-tsan/"
  flags="-fsanitize=thread -g -O1"
  cmake -S "$root" -B "$root/build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache >/dev/null
  targets=(test_streaming_protocol test_streaming_loopback test_streaming_member_environment)
  [[ $study -eq 1 ]] && targets+=(surge surge-solve hostile_peer)
  cmake --build "$root/build-tsan" -j"$jobs" --target "${targets[@]}"
  start=$(date +%s)
  options="halt_on_error=1 second_deadlock_stack=1 history_size=4"
  options="$options suppressions=$root/scripts/tsan.supp"
  (cd "$root/build-tsan" && TSAN_OPTIONS=$options \
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    ctest -R 'Streaming|MemberEnvironment' --output-on-failure) || status=1
  if [[ $study -eq 1 ]]; then
    # Open MPI's own mutex handling (unlocks in its plugins, lock orders) is reported by TSan
    # in every MPI process; the study keeps the data-race checks only.
    (cd "$root/build-tsan" &&
      TSAN_OPTIONS="$options report_mutex_bugs=0 detect_deadlocks=0" \
      OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
      ctest -R 'run_e2e_hostile_(input|members)|run_e2e_member_redrawn_two_server_ranks' \
        --output-on-failure &&
      ctest -R 'train_(bad_data_files|well_file_of_trajectories|two_processes|resume)' \
        --output-on-failure) || status=1
  fi
  echo "== tsan: tests took $(( $(date +%s) - start )) s, exit status so far $status"
fi
exit $status
