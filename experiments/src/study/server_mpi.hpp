#pragma once
// MPI between the server ranks of `surge run` (main threads only: MPI is initialised
// FUNNELED): broadcasts and gathers that wait without spinning a core, a flat byte packing,
// the validation set gathered on every rank, the per-rank counts and per-member losses summed
// on rank 0.

#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "surge/core/error.hpp"
#include "surge/experiments/results_writer.hpp"
#include "surge/reservoir/sample.hpp"
#include "surge/reservoir/statistics.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

// Waits for a non-blocking MPI call without spinning a core: a rank's main thread may wait
// here while rank 0 waits for members that need the cores.
void wait_request(MPI_Request& request);
// Rank 0's `v` on every rank.
void bcast_vector(std::vector<std::int64_t>& v);
// Every rank's bytes, in rank order, on every rank (root < 0) or on `root`.
std::vector<std::vector<char>> gather_bytes(const std::vector<char>& mine, int root = -1);

// A flat byte encoding of plain values, for gather_bytes().
struct Packer {
  std::vector<char> bytes;
  template <class T>
  void put(const T& value) {
    const char* p = reinterpret_cast<const char*>(&value);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  template <class T>
  void put_vector(const std::vector<T>& v) {
    put(static_cast<std::int64_t>(v.size()));
    const char* p = reinterpret_cast<const char*>(v.data());
    bytes.insert(bytes.end(), p, p + v.size() * sizeof(T));
  }
};
struct Unpacker {
  const std::vector<char>& bytes;
  std::size_t at = 0;
  [[nodiscard]] bool done() const { return at >= bytes.size(); }
  template <class T>
  T get() {
    SURGE_REQUIRE(at + sizeof(T) <= bytes.size(), MpiError, "surge run: truncated MPI message");
    T value;
    std::memcpy(&value, bytes.data() + at, sizeof(T));
    at += sizeof(T);
    return value;
  }
  template <class T>
  std::vector<T> get_vector() {
    const auto n = static_cast<std::size_t>(get<std::int64_t>());
    SURGE_REQUIRE(at + n * sizeof(T) <= bytes.size(), MpiError, "surge run: truncated MPI message");
    std::vector<T> v(n);
    if (n > 0) std::memcpy(v.data(), bytes.data() + at, n * sizeof(T));
    at += n * sizeof(T);
    return v;
  }
};

// Every rank's validation samples, on every rank (the same set, in rank order).
std::vector<reservoir::Sample> allgather_samples(const std::vector<reservoir::Sample>& mine);

// Every rank's per-member training losses, summed by simulation on rank 0 (other ranks get
// an empty table). Collective.
surrogates::MemberLosses reduce_member_losses(const surrogates::MemberLosses& mine);

// What each server rank received and its buffer did, summed (or listed) on rank 0.
struct ServerTotals {
  std::map<std::uint64_t, std::int64_t> samples;  // by simulation, summed over ranks
  std::vector<ServerRankCounts> ranks;
  reservoir::Statistics statistics;  // counters and histograms summed; occupancy of rank 0
};

// Sums (or lists) every rank's counts on rank 0; other ranks get an empty result.
ServerTotals reduce_to_rank0(const std::map<std::uint64_t, std::int64_t>& samples,
                             std::int64_t received, const reservoir::Statistics& s);

}  // namespace surge::experiments
