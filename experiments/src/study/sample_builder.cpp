#include "surge/experiments/sample_builder.hpp"

#include <algorithm>

#include "surge/core/error.hpp"

namespace surge::experiments {

SampleBuilder::SampleBuilder(std::vector<surrogates::FieldLayout> layout, std::size_t nodes,
                             bool with_time)
    : nodes_(nodes), with_time_(with_time) {
  SURGE_REQUIRE(!layout.empty(), ConfigError, "a surrogate needs at least one field");
  for (const auto& f : layout) {
    SURGE_REQUIRE(f.components >= 1, ConfigError,
                  "field '" << f.name << "' has " << f.components << " components");
    slots_.push_back({f.name, static_cast<std::size_t>(f.components), total_});
    total_ += static_cast<std::size_t>(f.components) * nodes_;
  }
}

std::optional<reservoir::Sample> SampleBuilder::add(const streaming::Field& field) {
  const auto it = std::find_if(slots_.begin(), slots_.end(),
                               [&](const Slot& s) { return s.name == field.name; });
  SURGE_REQUIRE(it != slots_.end(), ProtocolError,
                "field '" << field.name << "' is not one of the model's inputs or outputs");
  const Slot& slot = *it;
  std::size_t count = 1;
  for (auto e : field.shape) count *= static_cast<std::size_t>(e);
  // A vector field carries its components as the last axis; a scalar has none (or 1).
  const std::size_t components =
      field.shape.size() > 2 ? static_cast<std::size_t>(field.shape.back()) : 1;
  SURGE_REQUIRE(count == slot.components * nodes_ && components == slot.components, ProtocolError,
                "field '" << field.name << "' has " << count << " values in " << components
                          << " component(s); the model expects " << slot.components * nodes_
                          << " in " << slot.components);
  const std::size_t bytes = count * (field.dtype == streaming::DType::float32 ? 4 : 8);
  SURGE_REQUIRE(field.data.size_bytes() >= bytes, ProtocolError,
                "field '" << field.name << "' holds " << field.data.size_bytes()
                          << " bytes, its shape needs " << bytes);

  // A sample of one field is made on the spot; one of several waits in pending_ for the rest.
  const bool alone = slots_.size() == 1;
  const auto key = std::make_pair(field.simulation, field.step);
  reservoir::Sample one;
  std::size_t one_received = 0;
  reservoir::Sample* sample = &one;
  std::size_t* received = &one_received;
  if (!alone) {
    auto& pending = pending_[key];
    sample = &pending.first;
    received = &pending.second;
  }
  if (*received == 0) {
    sample->simulation_id = static_cast<std::int64_t>(field.simulation);
    sample->step = field.step;
    sample->x.reserve(field.parameters.size() + 1);
    for (double p : field.parameters) sample->x.push_back(static_cast<float>(p));
    if (with_time_) sample->x.push_back(static_cast<float>(field.time));
    if (!alone) sample->y.resize(total_);
  } else if (sample->x.size() != field.parameters.size() + (with_time_ ? 1 : 0)) {
    pending_.erase(key);
    SURGE_THROW(ProtocolError, "field '" << field.name << "' of simulation " << field.simulation
                                         << " step " << field.step
                                         << " carries another number of parameters");
  }
  auto copy = [&](const auto* in) {
    if (slot.components == 1) {  // contiguous: one (converting) copy
      if (alone) {
        sample->y.assign(in, in + nodes_);
      } else {
        std::copy(in, in + nodes_, sample->y.data() + slot.offset);
      }
      return;
    }
    // Element k of component c of node i sits at i * components + c: de-interleave.
    if (alone) sample->y.resize(total_);
    float* out = sample->y.data() + slot.offset;
    for (std::size_t i = 0; i < nodes_; ++i)
      for (std::size_t c = 0; c < slot.components; ++c)
        out[c * nodes_ + i] = static_cast<float>(in[i * slot.components + c]);
  };
  if (field.dtype == streaming::DType::float32) {
    copy(field.data.view<float>().data());
  } else {
    copy(field.data.view<double>().data());
  }
  if (++*received < slots_.size()) return std::nullopt;
  if (alone) return one;
  reservoir::Sample done = std::move(*sample);
  pending_.erase(key);
  return done;
}

std::size_t SampleBuilder::forget(std::uint64_t simulation) {
  std::size_t dropped = 0;
  for (auto it = pending_.lower_bound({simulation, INT64_MIN});
       it != pending_.end() && it->first.first == simulation;) {
    it = pending_.erase(it);
    ++dropped;
  }
  return dropped;
}

void stride_key(reservoir::Sample& sample, std::int64_t stride) {
  if (stride <= 1) return;
  sample.simulation_id = sample.simulation_id * stride + sample.step % stride;
  sample.step /= stride;
}

}  // namespace surge::experiments
