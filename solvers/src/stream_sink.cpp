#include "surge/solvers/stream_sink.hpp"

namespace surge::solvers {

StreamSink::StreamSink(const streaming::ClientConfig& config, const std::string& experiment,
                       std::uint64_t simulation_id, const Solver& solver) {
  const auto& d = solver.decomposition();
  streaming::MemberIdentity identity;
  identity.experiment = experiment;
  identity.simulation = simulation_id;
  identity.member_rank = static_cast<std::uint32_t>(d.rank());
  identity.member_size = static_cast<std::uint32_t>(d.size());
  identity.dtype = streaming::DType::float32;
  // Vector fields carry their components as a last axis, as in the Well file.
  for (const auto& field : solver.fields()) {
    std::vector<std::uint64_t> shape = {static_cast<std::uint64_t>(d.nx()),
                                        static_cast<std::uint64_t>(d.ny())};
    if (field.order > 0) shape.push_back(static_cast<std::uint64_t>(field.components));
    identity.fields.push_back({field.name, shape});
  }
  // Named: the front checks them against the study's order (SURGE_PARAMETER_NAMES).
  for (const auto& [name, value] : solver.parameters()) {
    identity.parameters.push_back(value);
    identity.parameter_names.push_back(name);
  }
  client_ = std::make_unique<streaming::Client>(config, std::move(identity));
}

void StreamSink::write_frame(int index, const Solver& solver) {
  const auto& d = solver.decomposition();
  for (const auto& field : solver.fields()) {
    streaming::Block block{
        {static_cast<std::uint64_t>(d.offset_x()), static_cast<std::uint64_t>(d.offset_y())},
        {static_cast<std::uint64_t>(d.local_nx()), static_cast<std::uint64_t>(d.local_ny())}};
    if (field.order > 0) {
      block.offset.push_back(0);
      block.extent.push_back(static_cast<std::uint64_t>(field.components));
    }
    solver.copy_field(field.name, block_);
    client_->send(field.name, index, solver.time(),
                  streaming::Span<const float>(block_.data(), block_.size()), block);
  }
}

void StreamSink::finish() { client_->finish(); }

}  // namespace surge::solvers
