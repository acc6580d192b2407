// What the front admits: the expectations of every member of a study.
#include "online/admission.hpp"

#include "members/external_solver.hpp"
#include "surge/core/error.hpp"
#include "surge/streaming/member_environment.hpp"

namespace surge::experiments {

streaming::MemberExpectations member_expectations(const Study& study) {
  streaming::MemberExpectations e;
  const SolverFacts& facts = study.facts;
  // As StreamSink (and the client examples) announce them: the grid (the nodes alone for fields
  // on n nodes, [n]), then the components of a vector field as a last axis.
  const std::size_t axes = facts.on_nodes ? 1 : facts.grid.size();
  for (const auto& f : facts.layout) {
    streaming::FieldSpec spec{f.name, {}};
    for (std::size_t d = 0; d < axes; ++d)
      spec.shape.push_back(static_cast<std::uint64_t>(facts.grid[d]));
    if (f.components > 1) spec.shape.push_back(static_cast<std::uint64_t>(f.components));
    e.fields.push_back(std::move(spec));
  }
  // surge solve streams float32; an external program what its study declares.
  e.dtype = study.external ? external_dtype(*study.external) : streaming::DType::float32;
  e.parameter_count = static_cast<std::uint32_t>(facts.parameter_names.size());
  e.parameter_names = study.range_names;
  e.member_size = static_cast<std::uint32_t>(study.cfg.solver.ranks);
  e.steps = static_cast<std::int64_t>(facts.times.size());
  return e;
}

// A member that exits 0 is done once its END reached the server rank it streams to (rank 0's
// feeder, or another rank's report) after every one of its `frames` steps was made into a
// sample: external programs can exit 0 having sent less.
LocalLauncher::DeliveryOf delivery_check(const streaming::Front& front, const Feeder& feeder,
                                         const ServerControl& control, std::int64_t frames) {
  return [&front, &feeder, &control, frames](std::uint64_t id) {
    const int r = front.assigned_rank(id);
    if (r < 0) return LocalLauncher::Delivery{"never connected to the server", true};
    const std::optional<std::int64_t> steps =
        r == 0 ? feeder.delivered(id) : control.remote_delivered(id);
    if (!steps) {
      return LocalLauncher::Delivery{
          "its end of stream never reached the server (does it finalize its client?)"};
    }
    if (*steps != frames) {
      return LocalLauncher::Delivery{"ended its stream after " + std::to_string(*steps) +
                                     " of its " + std::to_string(frames) + " steps"};
    }
    return LocalLauncher::Delivery{};
  };
}

// Admission: a fresh secret for one launch of `simulation`, registered with the
// front (replacing the one of an earlier attempt) and handed to the member in
// SURGE_MEMBER_TICKET. The one place where tickets are made.
std::string issue_member_ticket(streaming::Front& front, std::uint64_t simulation) {
  std::string ticket = streaming::make_member_ticket();
  front.expect(simulation, ticket);
  return ticket;
}

}  // namespace surge::experiments
