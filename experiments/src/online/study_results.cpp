#include "online/study_results.hpp"

#include <mpi.h>

#include <cstdio>

#include "pipeline/pipeline.hpp"
#include "surge/core/mpi.hpp"

namespace surge::experiments {

// The streaming layer's counters (results.h5 streaming/), summed over the server ranks on
// rank 0; collective.
std::vector<std::pair<std::string, std::int64_t>> streaming_counters(
    const streaming::Front* front, const streaming::Receiver& receiver, const Feeder& feeder,
    const ServerControl& control) {
  std::vector<std::pair<std::string, std::int64_t>> c;
  const streaming::FrontStats fs = front ? front->stats() : streaming::FrontStats{};
  for (std::uint32_t r = 1; r < streaming::kRefusalReasons; ++r) {
    c.emplace_back(std::string("refused_") + key_of(static_cast<streaming::RefusalReason>(r)),
                   static_cast<std::int64_t>(fs.refused[r]));
  }
  c.emplace_back("front_handshake_failures", static_cast<std::int64_t>(fs.handshake_failures));
  c.emplace_back("handshake_failures", static_cast<std::int64_t>(receiver.handshake_failures()));
  // CURVE clients without the study's key (the ZAP handlers of the front and the receivers),
  // and whatever reached the server ranks' control channel and was not obeyed.
  c.emplace_back("curve_refused",
                 static_cast<std::int64_t>(fs.curve_refused + receiver.curve_refused()));
  c.emplace_back("control_refused", static_cast<std::int64_t>(control.refusals().total()));
  const streaming::IngestStats is = receiver.stats();
  for (std::size_t k = 0; k < streaming::kRejectionKinds; ++k) {
    c.emplace_back(std::string("rejected_") + to_string(static_cast<streaming::Rejection>(k)),
                   static_cast<std::int64_t>(is.rejected[k]));
  }
  c.emplace_back("messages", static_cast<std::int64_t>(is.messages));
  c.emplace_back("incomplete_fields", static_cast<std::int64_t>(is.incomplete_fields));
  const FeederDrops d = feeder.drops();
  c.emplace_back("feeder_duplicates", [&] {
    std::int64_t n = 0;
    feeder.paused([&](const ReceptionState& s) { n = s.duplicates; });
    return n;
  }());
  c.emplace_back("feeder_unknown_role", d.unknown_role);
  c.emplace_back("feeder_bad_step", d.bad_step);
  c.emplace_back("feeder_unusable", d.unusable);
  // Simulations given up (redrawn) whose state a rank freed: redrawn members x ranks.
  c.emplace_back("forgotten", static_cast<std::int64_t>(feeder.forgotten()));
  std::vector<std::int64_t> values;
  for (const auto& [name, n] : c) values.push_back(n);
  if (core::comm_size(MPI_COMM_WORLD) > 1) {
    const bool root = core::comm_rank(MPI_COMM_WORLD) == 0;
    SURGE_MPI_CHECK(MPI_Reduce(root ? MPI_IN_PLACE : values.data(), values.data(),
                               static_cast<int>(values.size()), MPI_INT64_T, MPI_SUM, 0,
                               MPI_COMM_WORLD));
  }
  for (std::size_t k = 0; k < c.size(); ++k) c[k].second = values[k];
  return c;
}

void print_study_summary(const Study& study, const RunSummary& summary, std::int64_t batches,
                         const StudyOutputs& outputs) {
  std::int64_t expected = 0, received = 0;
  int done = 0, failed = 0, stopped = 0;
  for (const auto& m : summary.members) {
    if (m.status == MemberStatus::done) {
      expected += static_cast<std::int64_t>(study.facts.times.size());
      ++done;
    }
    if (m.status == MemberStatus::failed) ++failed;
    if (m.status == MemberStatus::stopped) ++stopped;
  }
  for (const auto& r : summary.server_ranks) received += r.received;
  const std::string stopped_text = stopped > 0 ? ", " + std::to_string(stopped) + " stopped" : "";
  std::printf(
      "surge run %s: %d members done, %d failed%s, %lld samples received (%lld expected from "
      "completed members), %lld batches, %.1f s\n",
      study.cfg.study.name.c_str(), done, failed, stopped_text.c_str(),
      static_cast<long long>(received), static_cast<long long>(expected),
      static_cast<long long>(batches), summary.seconds);
  if (summary.server_ranks.size() > 1) {
    std::printf("  server ranks:");
    for (const auto& r : summary.server_ranks) {
      std::printf(" %lld", static_cast<long long>(r.received));
    }
    std::printf(" samples received\n");
  }
  if (summary.rejected_fields > 0)
    std::printf("  %lld field(s) dropped: they did not fit the study's fields\n",
                static_cast<long long>(summary.rejected_fields));
  if (summary.refused_handshakes > 0)
    std::printf(
        "  %lld handshake(s) refused: unknown members, bad tickets, or fields the study does "
        "not have (results.h5 streaming/refused_*, the server's log)\n",
        static_cast<long long>(summary.refused_handshakes));
  std::int64_t dropped_messages = 0, curve_refused = 0, control_refused = 0;
  for (const auto& [name, n] : summary.streaming) {
    if (name.rfind("rejected_", 0) == 0) dropped_messages += n;
    if (name == "curve_refused") curve_refused = n;
    if (name == "control_refused") control_refused = n;
  }
  if (dropped_messages > 0)
    std::printf("  %lld message(s) dropped by the receivers (results.h5 streaming/rejected_*)\n",
                static_cast<long long>(dropped_messages));
  // Failed handshakes alone are not news: a member that ends within milliseconds closes a
  // socket before its handshake completes.
  if (curve_refused + control_refused > 0)
    std::printf(
        "  refused connections: %lld CURVE client(s) without the study's key, %lld attempt(s) "
        "on the server's control channel (results.h5 streaming/)\n",
        static_cast<long long>(curve_refused), static_cast<long long>(control_refused));
  print_final_metrics(outputs, study.next_step, study.out_dir);
}

}  // namespace surge::experiments
