#pragma once
// Shared helpers of the reservoir tests: small samples and buffers built from YAML text.

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "surge/reservoir/registry.hpp"

namespace surge::reservoir::testing {

// A sample whose x holds `nx` copies of step and y `ny` copies of -step.
inline Sample make_sample(std::int64_t simulation, std::int64_t step, std::size_t nx = 4,
                          std::size_t ny = 2) {
  Sample s;
  s.simulation_id = simulation;
  s.step = step;
  s.x.assign(nx, static_cast<float>(step));
  s.y.assign(ny, -static_cast<float>(step));
  return s;
}

inline core::Pluggable part(const std::string& type, const std::string& parameters_yaml) {
  core::Pluggable p;
  p.type = type;
  p.parameters = YAML::Load(parameters_yaml);
  return p;
}

template <class T = Sample>
std::unique_ptr<Buffer<T>> make(const std::string& type, const std::string& parameters_yaml) {
  return make_buffer<T>(part(type, parameters_yaml));
}

// Waits (yielding, no sleep) until `condition()` holds: used to know that a thread has
// reached a blocking wait inside the buffer before asserting on it.
template <class F>
void wait_until(F&& condition) {
  while (!condition()) std::this_thread::yield();
}

}  // namespace surge::reservoir::testing
