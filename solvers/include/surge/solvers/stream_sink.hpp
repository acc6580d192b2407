#pragma once
// Streams every frame of a member (the initial state, then the outputs) to a training
// server: each rank sends its own block of every field through a streaming::Client
// (`surge solve ... --stream ENDPOINT`).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "surge/solvers/member.hpp"
#include "surge/streaming/client.hpp"
#include "surge/streaming/config.hpp"

namespace surge::solvers {

class StreamSink final : public FrameSink {
 public:
  // Shakes hands with the server (every rank of the member). Throws what
  // streaming::Client throws (HandshakeRefused, ProtocolError, ConfigError, IoError).
  StreamSink(const streaming::ClientConfig& config, const std::string& experiment,
             std::uint64_t simulation_id, const Solver& solver);

  // Sends this rank's block of every field, step = frame index (0 = the initial state, k =
  // output k), with the member's parameters. Blocks while the server applies back-pressure.
  void write_frame(int index, const Solver& solver) override;
  // Sends end-of-simulation.
  void finish() override;

  [[nodiscard]] std::uint64_t blocks_sent() const noexcept { return client_->blocks_sent(); }

 private:
  std::unique_ptr<streaming::Client> client_;
  std::vector<float> block_;
};

}  // namespace surge::solvers
