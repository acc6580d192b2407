#include "surge/experiments/fault_policy.hpp"

#include <algorithm>

namespace surge::experiments {

const char* to_string(MemberRole role) {
  return role == MemberRole::validation ? "validation" : "train";
}

const char* to_string(MemberStatus status) {
  switch (status) {
    case MemberStatus::pending:
      return "pending";
    case MemberStatus::running:
      return "running";
    case MemberStatus::done:
      return "done";
    case MemberStatus::failed:
      return "failed";
    case MemberStatus::redrawn:
      return "redrawn";
    case MemberStatus::stopped:
      return "stopped";
  }
  return "?";
}

MemberCounts count_members(const std::vector<MemberRecord>& members) {
  MemberCounts c;
  for (const auto& m : members) {
    switch (m.status) {
      case MemberStatus::pending:
        ++c.pending;
        break;
      case MemberStatus::running:
        ++c.running;
        break;
      case MemberStatus::done:
        ++c.done;
        break;
      case MemberStatus::failed:
        ++c.failed;
        break;
      case MemberStatus::redrawn:
        ++c.redrawn;
        break;
      case MemberStatus::stopped:
        ++c.stopped;
        break;
    }
  }
  return c;
}

bool role_finished(const std::vector<MemberRecord>& members, MemberRole role) {
  return std::none_of(members.begin(), members.end(), [role](const MemberRecord& m) {
    return m.role == role &&
           (m.status == MemberStatus::pending || m.status == MemberStatus::running);
  });
}

FaultPolicy::FaultPolicy(const LauncherConfig& config, Redraw redraw, std::string log_dir)
    : config_(config), redraw_(std::move(redraw)), log_dir_(std::move(log_dir)) {}

std::string FaultPolicy::log_file(const MemberRecord& m) const {
  return log_dir_ + "/member_" + std::to_string(m.simulation_id) + "_attempt" +
         std::to_string(m.attempts) + ".log";
}

std::optional<double> FaultPolicy::too_quiet(double since_start, double silence) const {
  const double quiet = silence < 0 ? since_start : std::min(silence, since_start);
  if (quiet > config_.silence_timeout_s) return quiet;
  return std::nullopt;
}

void FaultPolicy::attempt_failed(std::vector<MemberRecord>& members, std::size_t index,
                                 const std::string& why) {
  MemberRecord& m = members[index];
  m.last_error = why;
  if (m.attempts <= config_.retries) {
    SURGE_LOG(log_, warn,
              "simulation " << m.simulation_id << " attempt " << m.attempts << " " << why
                            << "; relaunching");
    m.status = MemberStatus::pending;
    return;
  }
  if (++failed_members_ >= config_.max_failed_members) {
    m.status = MemberStatus::failed;
    gave_up_ = std::to_string(failed_members_) + " members failed every attempt; the last, " +
               "simulation " + std::to_string(m.simulation_id) + ", " + why + " (see " +
               log_file(m) + ")";
    log_.error("giving up: " + gave_up_);
    return;
  }
  if (config_.on_failure == "redraw" && m.role == MemberRole::train) {
    m.status = MemberStatus::redrawn;
    MemberRecord fresh = redraw_(m);
    SURGE_LOG(log_, warn,
              "simulation " << m.simulation_id << " failed " << m.attempts << " times (" << why
                            << "); redrawn as simulation " << fresh.simulation_id);
    members.push_back(std::move(fresh));  // `m` is no longer valid
  } else {
    m.status = MemberStatus::failed;
    SURGE_LOG(log_, warn,
              "simulation " << m.simulation_id << " failed " << m.attempts << " times (" << why
                            << "); marked failed");
  }
}

}  // namespace surge::experiments
