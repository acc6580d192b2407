#pragma once
// Builds a buffer from its `type:` + `parameters:` config part. Policies: fifo, firo,
// reservoir, and trajectory (when SampleTraits<T> names a simulation and a step).
//
//   reservoir:
//     type: reservoir
//     parameters: {capacity: 4096, watermark: 512, batch_size: 64, extra_passes: 2}
//
//   auto buffer = reservoir::make_buffer<Sample>(cfg.reservoir, source, "reservoir.parameters");

#include <memory>
#include <string>

#include "surge/core/config.hpp"
#include "surge/core/registry.hpp"
#include "surge/reservoir/buffer.hpp"
#include "surge/reservoir/fifo.hpp"
#include "surge/reservoir/firo.hpp"
#include "surge/reservoir/parameters.hpp"
#include "surge/reservoir/reservoir.hpp"
#include "surge/reservoir/trajectory.hpp"

namespace surge::reservoir {

// The factory's extra argument is the key path of the parameters map, for error messages.
template <class T>
using BufferRegistry = core::Registry<Buffer<T>, const std::string&>;

namespace detail {
// A registry entry that reads and validates P, then builds a Concrete buffer.
template <class Concrete, class P>
typename BufferRegistry<typename Concrete::SampleType>::Entry entry(const char* summary) {
  using T = typename Concrete::SampleType;
  typename BufferRegistry<T>::Entry e;
  e.create = [](const YAML::Node& node, const core::ConfigSource& source,
                const std::string& path) -> std::unique_ptr<Buffer<T>> {
    const P params = core::read_config<P>(node, source, path);
    validate(params, node, source, path);
    return std::make_unique<Concrete>(params);
  };
  e.summary = summary;
  e.keys = [] { return core::describe_config<P>(); };
  return e;
}
}  // namespace detail

// The registry of buffer policies for samples of type T (built once, then read-only).
template <class T>
const BufferRegistry<T>& buffer_registry() {
  static const BufferRegistry<T> registry = [] {
    BufferRegistry<T> r("buffer policy");
    r.add("fifo",
          detail::entry<FifoBuffer<T>, FifoParameters>("arrival order, each sample served once"));
    r.add("firo",
          detail::entry<FiroBuffer<T>, FifoParameters>("random order, each sample served once"));
    r.add("reservoir", detail::entry<ReservoirBuffer<T>, ReservoirParameters>(
                           "uniform draws without removal; when full a served sample is "
                           "replaced, else put blocks (Melissa, SC'23)"));
    if constexpr (has_trajectory_key_v<T>) {
      r.add("trajectory", detail::entry<TrajectoryBuffer<T>, TrajectoryParameters>(
                              "windows of k consecutive steps of one simulation, least used "
                              "simulations first"));
    }
    return r;
  }();
  return registry;
}

// Builds the buffer that `part` names. `parameters_path` is where part.parameters sits in
// the config ("reservoir.parameters"), so that errors and overrides name the full key.
// Returns a non-null buffer. Throws core::ConfigError for an unknown type, an unknown key,
// a wrong type or a value out of range, naming the key.
template <class T>
[[nodiscard]] std::unique_ptr<Buffer<T>> make_buffer(
    const core::Pluggable& part, const core::ConfigSource& source = {},
    const std::string& parameters_path = "parameters") {
  return buffer_registry<T>().create(part, source, parameters_path);
}

}  // namespace surge::reservoir
