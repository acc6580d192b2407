#include "study_results.hpp"

#include <cstdio>
#include <exception>
#include <optional>

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/experiments/results_writer.hpp"

namespace surge::experiments {

void write_study_results(const Study& study, const StudyOutcome& outcome,
                         const surrogates::Trainer& trainer,
                         const surrogates::ValidationSet& validation) {
  const auto& out_dir = study.out_dir;
  // A model that cannot be written (a full disk) must not cost the results, and the results
  // say what happened: the first error is rethrown once they are written (or not).
  std::exception_ptr export_error;
  std::string export_message;
  try {
    trainer.export_model((out_dir / "model").string());
  } catch (const core::Error& e) {
    export_error = std::current_exception();
    export_message = e.message();
  }
  RunSummary summary;
  summary.study = study.cfg.study.name;
  summary.resolved_config = study.resolved_text;
  summary.parameter_names = study.range_names;
  summary.members = outcome.members;
  summary.samples = outcome.totals.samples;
  summary.server_ranks = outcome.totals.ranks;
  summary.reservoir_policy = study.cfg.reservoir.type;
  summary.reservoir = outcome.totals.statistics;
  summary.seconds = outcome.seconds;
  summary.stop_reason = outcome.stop_reason;
  if (export_error) summary.stop_reason += "; the model was not written: " + export_message;
  summary.rejected_fields = outcome.rejected_fields;
  summary.refused_handshakes = outcome.refused_handshakes;
  summary.streaming = outcome.streaming;
  std::optional<surrogates::RolloutResult> rollout;
  if (study.next_step && !validation.empty()) rollout = trainer.rollout(validation);
  surrogates::ValidationRecord final_metrics;
  try {
    final_metrics = write_results((out_dir / "results.h5").string(), summary, trainer, validation,
                                  study.io, rollout ? &*rollout : nullptr);
  } catch (...) {
    if (export_error) std::rethrow_exception(export_error);
    throw;
  }
  if (export_error) std::rethrow_exception(export_error);

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
  for (const auto& r : outcome.totals.ranks) received += r.received;
  const std::string stopped_text = stopped > 0 ? ", " + std::to_string(stopped) + " stopped" : "";
  std::printf(
      "surge run %s: %d members done, %d failed%s, %lld samples received (%lld expected from "
      "completed members), %lld batches, %.1f s\n",
      study.cfg.study.name.c_str(), done, failed, stopped_text.c_str(),
      static_cast<long long>(received), static_cast<long long>(expected),
      static_cast<long long>(trainer.batches()), outcome.seconds);
  if (outcome.totals.ranks.size() > 1) {
    std::printf("  server ranks:");
    for (const auto& r : outcome.totals.ranks) {
      std::printf(" %lld", static_cast<long long>(r.received));
    }
    std::printf(" samples received\n");
  }
  if (outcome.rejected_fields > 0)
    std::printf("  %lld field(s) dropped: they did not fit the study's fields\n",
                static_cast<long long>(outcome.rejected_fields));
  if (outcome.refused_handshakes > 0)
    std::printf(
        "  %lld handshake(s) refused: unknown members, bad tickets, or fields the study does "
        "not have (results.h5 streaming/refused_*, the server's log)\n",
        static_cast<long long>(outcome.refused_handshakes));
  std::int64_t dropped_messages = 0, curve_refused = 0, control_refused = 0;
  for (const auto& [name, n] : outcome.streaming) {
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
  print_final_metrics(final_metrics, rollout ? &*rollout : nullptr,
                      study.next_step ? "one-step" : "validation", out_dir);
}

StudyOptions parse_study_options(const std::vector<std::string>& args, const char* command) {
  StudyOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--dry-run") {
      o.dry_run = true;
    } else if (a == "--overwrite") {
      o.overwrite = true;
    } else if (a == "--no-plots") {
      o.plots = false;
    } else if (a == "--resume" && std::string(command) == "train") {
      o.resume = true;
    } else if (a == "--resume") {
      SURGE_THROW(ConfigError, "surge " << command
                                        << " has no --resume: a study continues from its last "
                                           "study checkpoint with `surge resume <output_dir>`");
    } else if (a == "--log-level") {
      SURGE_REQUIRE(i + 1 < args.size(), ConfigError, "--log-level needs a value");
      core::Logger::set_level(core::parse_log_level(args[++i]));
    } else if (a.rfind("--", 0) == 0) {
      SURGE_THROW(ConfigError, "unknown option '" << a << "' (see surge " << command << " --help)");
    } else if (core::is_override(a)) {
      o.overrides.push_back(a);
    } else if (o.file.empty()) {
      o.file = a;
    } else {
      SURGE_THROW(ConfigError, "unexpected argument '" << a << "' (keys are set as key=value)");
    }
  }
  return o;
}

void print_final_metrics(const surrogates::ValidationRecord& metrics,
                         const surrogates::RolloutResult* rollout, const char* what,
                         const std::filesystem::path& out_dir) {
  for (const auto& f : metrics.fields) {
    std::printf("  %s %s: relative L2 %.3f %%, NRMSE %.4f, VRMSE %.4f\n", what, f.field.c_str(),
                100.0 * f.relative_l2, f.nrmse, f.vrmse);
  }
  if (rollout && !rollout->metrics.empty()) {
    for (const auto& f : rollout->metrics.back()) {
      std::printf("  rollout (%lld steps) %s: relative L2 %.3f %%, VRMSE %.4f\n",
                  static_cast<long long>(rollout->horizon.back()), f.field.c_str(),
                  100.0 * f.relative_l2, f.vrmse);
    }
  }
  std::printf("  results: %s\n  model:   %s\n", (out_dir / "results.h5").c_str(),
              (out_dir / "model").c_str());
}

}  // namespace surge::experiments
