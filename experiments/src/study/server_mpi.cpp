#include "study/server_mpi.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "surge/core/mpi.hpp"

namespace surge::experiments {

void wait_request(MPI_Request& request) {
  int done = 0;
  while (true) {
    SURGE_MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Rank 0's `v` on every rank.
void bcast_vector(std::vector<std::int64_t>& v) {
  std::int64_t n = static_cast<std::int64_t>(v.size());
  MPI_Request request;
  SURGE_MPI_CHECK(MPI_Ibcast(&n, 1, MPI_INT64_T, 0, MPI_COMM_WORLD, &request));
  wait_request(request);
  v.resize(static_cast<std::size_t>(n));
  SURGE_MPI_CHECK(
      MPI_Ibcast(v.data(), static_cast<int>(n), MPI_INT64_T, 0, MPI_COMM_WORLD, &request));
  wait_request(request);
}

// Every rank's bytes, in rank order, on every rank (root < 0) or on `root`.
std::vector<std::vector<char>> gather_bytes(const std::vector<char>& mine, int root) {
  const int size = core::comm_size(MPI_COMM_WORLD), rank = core::comm_rank(MPI_COMM_WORLD);
  SURGE_REQUIRE(mine.size() < (std::size_t{1} << 30), MpiError,
                "surge run: " << mine.size() << " bytes are too many to gather over MPI");
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(counts.size());
  MPI_Request request;
  SURGE_MPI_CHECK(
      MPI_Iallgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD, &request));
  wait_request(request);
  std::size_t total = 0;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    displs[k] = static_cast<int>(total);
    total += static_cast<std::size_t>(counts[k]);
  }
  SURGE_REQUIRE(total < (std::size_t{1} << 31), MpiError,
                "surge run: " << total << " bytes are too many to gather over MPI");
  std::vector<char> all(std::max<std::size_t>(total, 1));
  if (root < 0) {
    SURGE_MPI_CHECK(MPI_Iallgatherv(mine.data(), n, MPI_BYTE, all.data(), counts.data(),
                                    displs.data(), MPI_BYTE, MPI_COMM_WORLD, &request));
  } else {
    SURGE_MPI_CHECK(MPI_Igatherv(mine.data(), n, MPI_BYTE, all.data(), counts.data(), displs.data(),
                                 MPI_BYTE, root, MPI_COMM_WORLD, &request));
  }
  wait_request(request);
  std::vector<std::vector<char>> out;
  if (root >= 0 && rank != root) return out;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    out.emplace_back(all.begin() + displs[k], all.begin() + displs[k] + counts[k]);
  }
  return out;
}

std::vector<reservoir::Sample> allgather_samples(const std::vector<reservoir::Sample>& mine) {
  Packer p;
  for (const auto& s : mine) {
    p.put(s.simulation_id);
    p.put(s.step);
    p.put_vector(s.x);
    p.put_vector(s.y);
  }
  std::vector<reservoir::Sample> all;
  for (const auto& bytes : gather_bytes(p.bytes)) {
    Unpacker u{bytes};
    while (!u.done()) {
      reservoir::Sample s;
      s.simulation_id = u.get<std::int64_t>();
      s.step = u.get<std::int64_t>();
      s.x = u.get_vector<float>();
      s.y = u.get_vector<float>();
      all.push_back(std::move(s));
    }
  }
  return all;
}

surrogates::MemberLosses reduce_member_losses(const surrogates::MemberLosses& mine) {
  Packer p;
  mine.for_each([&](std::int64_t id, const surrogates::MemberLoss& l) {
    p.put(id);
    p.put(l.samples);
    p.put(l.loss_sum);
    p.put(l.fresh_samples);
    p.put(l.fresh_ratio_sum);
  });
  surrogates::MemberLosses all;
  for (const auto& bytes : gather_bytes(p.bytes, 0)) {
    Unpacker u{bytes};
    while (!u.done()) {
      const auto id = u.get<std::int64_t>();
      surrogates::MemberLoss l;
      l.samples = u.get<std::int64_t>();
      l.loss_sum = u.get<double>();
      l.fresh_samples = u.get<std::int64_t>();
      l.fresh_ratio_sum = u.get<double>();
      all.add(id, l);
    }
  }
  return all;
}

ServerTotals reduce_to_rank0(const std::map<std::uint64_t, std::int64_t>& samples,
                             std::int64_t received, const reservoir::Statistics& s) {
  Packer p;
  p.put(received);
  for (std::int64_t v : {s.puts, s.rejected_puts, s.gets, s.batches, s.evictions,
                         s.forced_evictions, s.seen_removed_sum}) {
    p.put(v);
  }
  p.put(s.producer_blocked_seconds);
  p.put(s.consumer_wait_seconds);
  p.put_vector(s.seen_at_removal);
  p.put_vector(s.seen_held);
  std::vector<std::int64_t> pairs;
  for (const auto& [sim, n] : samples) {
    pairs.push_back(static_cast<std::int64_t>(sim));
    pairs.push_back(n);
  }
  p.put_vector(pairs);
  ServerTotals totals;
  totals.statistics.occupancy = s.occupancy;
  auto add = [](std::vector<std::int64_t>& into, const std::vector<std::int64_t>& h) {
    if (into.size() < h.size()) into.resize(h.size(), 0);
    for (std::size_t i = 0; i < h.size(); ++i) into[i] += h[i];
  };
  for (const auto& bytes : gather_bytes(p.bytes, 0)) {
    Unpacker u{bytes};
    reservoir::Statistics& t = totals.statistics;
    ServerRankCounts c;
    c.received = u.get<std::int64_t>();
    c.puts = u.get<std::int64_t>();
    c.rejected_puts = u.get<std::int64_t>();
    c.gets = u.get<std::int64_t>();
    c.batches = u.get<std::int64_t>();
    t.puts += c.puts;
    t.rejected_puts += c.rejected_puts;
    t.gets += c.gets;
    t.batches += c.batches;
    t.evictions += u.get<std::int64_t>();
    t.forced_evictions += u.get<std::int64_t>();
    t.seen_removed_sum += u.get<std::int64_t>();
    t.producer_blocked_seconds += u.get<double>();
    t.consumer_wait_seconds += u.get<double>();
    add(t.seen_at_removal, u.get_vector<std::int64_t>());
    add(t.seen_held, u.get_vector<std::int64_t>());
    const auto sims = u.get_vector<std::int64_t>();
    for (std::size_t i = 0; i + 1 < sims.size(); i += 2) {
      totals.samples[static_cast<std::uint64_t>(sims[i])] += sims[i + 1];
    }
    totals.ranks.push_back(c);
  }
  return totals;
}

}  // namespace surge::experiments
