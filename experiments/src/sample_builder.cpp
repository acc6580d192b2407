#include "surge/experiments/sample_builder.hpp"

#include <algorithm>

#include "surge/core/error.hpp"

namespace surge::experiments {

FieldFromParameters::FieldFromParameters(std::vector<std::pair<std::string, std::size_t>> fields) {
  SURGE_REQUIRE(!fields.empty(), ConfigError, "a field-from-parameters model needs a field");
  for (auto& [name, size] : fields) {
    fields_.push_back(name);
    sizes_.push_back(size);
    offsets_.push_back(total_);
    total_ += size;
  }
}

std::optional<reservoir::Sample> FieldFromParameters::add(const streaming::Field& field) {
  const auto it = std::find(fields_.begin(), fields_.end(), field.name);
  SURGE_REQUIRE(it != fields_.end(), ProtocolError,
                "field '" << field.name << "' is not one of the model's outputs");
  const std::size_t index = static_cast<std::size_t>(it - fields_.begin());
  std::size_t count = 1;
  for (auto e : field.shape) count *= static_cast<std::size_t>(e);
  SURGE_REQUIRE(sizes_[index] == count, ProtocolError,
                "field '" << field.name << "' has " << count << " values, the model expects "
                          << sizes_[index]);

  auto& [sample, received] = pending_[{field.simulation, field.step}];
  if (received == 0) {
    sample.simulation_id = static_cast<std::int64_t>(field.simulation);
    sample.step = field.step;
    sample.x.reserve(field.parameters.size() + 1);
    for (double p : field.parameters) sample.x.push_back(static_cast<float>(p));
    sample.x.push_back(static_cast<float>(field.time));
    sample.y.resize(total_);
  }
  float* out = sample.y.data() + offsets_[index];
  if (field.dtype == streaming::DType::float32) {
    const auto v = field.data.view<float>();
    std::copy(v.data(), v.data() + count, out);
  } else {
    const auto v = field.data.view<double>();
    for (std::size_t k = 0; k < count; ++k) out[k] = static_cast<float>(v.data()[k]);
  }
  if (++received < fields_.size()) return std::nullopt;
  reservoir::Sample done = std::move(sample);
  pending_.erase({field.simulation, field.step});
  return done;
}

std::size_t FieldFromParameters::forget(std::uint64_t simulation) {
  std::size_t dropped = 0;
  for (auto it = pending_.lower_bound({simulation, INT64_MIN});
       it != pending_.end() && it->first.first == simulation;) {
    it = pending_.erase(it);
    ++dropped;
  }
  return dropped;
}

}  // namespace surge::experiments
