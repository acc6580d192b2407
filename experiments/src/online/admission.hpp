#pragma once
// Admission of members to a study's stream: what the front expects of each, the ticket of
// each launch, and whether a member that exited 0 delivered all it had to.

#include <cstdint>
#include <string>

#include "online/feeder.hpp"
#include "online/server_control.hpp"
#include "study/study.hpp"
#include "surge/experiments/launcher.hpp"
#include "surge/streaming/config.hpp"
#include "surge/streaming/front.hpp"

namespace surge::experiments {

// What the front must expect of every member of `study` (fields and shapes, dtype for
// built-in solvers, parameter count, ranks).
[[nodiscard]] streaming::MemberExpectations member_expectations(const Study& study);

// A fresh secret for one launch of `simulation`, registered with the front (replacing the one
// of an earlier attempt) and handed to the member in SURGE_MEMBER_TICKET. The one place where
// tickets are made.
[[nodiscard]] std::string issue_member_ticket(streaming::Front& front, std::uint64_t simulation);

// The launcher's check of a member that exited 0: done once its END reached the server rank
// it streams to after every one of its `frames` steps was made into a sample.
[[nodiscard]] LocalLauncher::DeliveryOf delivery_check(const streaming::Front& front,
                                                       const Feeder& feeder,
                                                       const ServerControl& control,
                                                       std::int64_t frames);

}  // namespace surge::experiments
