// Issue 14: a server rank's feeder never stops nor waits forever on what members send. A
// standalone front and receiver (no tickets, any announcement) let a client deliver fields
// the study could not use; the feeder drops and counts each by why, and goes on making the
// genuine samples.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "online/feeder.hpp"
#include "online/server_control.hpp"
#include "surge/reservoir/registry.hpp"
#include "surge/streaming/client.hpp"
#include "surge/streaming/curve.hpp"
#include "surge/streaming/front.hpp"

namespace {

using namespace surge;
using namespace surge::experiments;
namespace st = surge::streaming;

st::MemberIdentity member(std::uint64_t sim, std::uint64_t n, std::size_t parameters) {
  st::MemberIdentity id;
  id.experiment = "feeder";
  id.simulation = sim;
  id.fields = {{"u", {n, n}}};
  id.parameters.assign(parameters, 0.5);
  return id;
}

void send_steps(const std::string& front, const st::MemberIdentity& id, std::int64_t from,
                std::int64_t to) {
  st::ClientConfig c;
  c.front_endpoint = front;
  c.heartbeat_interval_ms = 0;
  st::Client client(c, id);
  const std::uint64_t n = id.fields[0].shape[0];
  std::vector<double> values(n * n, 1.0);
  for (std::int64_t step = from; step < to; ++step) {
    client.send("u", step, 0.1 * static_cast<double>(step), st::Span<const double>(values));
  }
  client.finish();
}

// A standalone server rank: receiver, front, control channel (the given simulations are
// training members), a 100-sample fifo buffer; setup() is a feeder's for 4 x 4 fields of 3
// frames.
struct Rank {
  explicit Rank(std::initializer_list<std::uint64_t> train)
      : key(st::make_admission_key()),
        receiver(config(), key, 0),
        front(config(), key, {receiver.endpoint()}),
        control(0, 1, config().data_endpoint,
                ControlKeys{streaming::make_curve_keypair(), streaming::make_curve_keypair()}) {
    for (std::uint64_t sim : train) control.set_role(sim, MemberRole::train);
    control.start({control.endpoint()}, {});
    core::Pluggable fifo;
    fifo.type = "fifo";
    fifo.parameters = YAML::Load("{capacity: 100, watermark: 1, batch_size: 1}");
    buffer = reservoir::make_buffer<reservoir::Sample>(fifo);
  }
  static st::ReceiverConfig config() {
    st::ReceiverConfig c;
    c.experiment = "feeder";
    return c;
  }
  static FeederSetup setup() {
    FeederSetup s;
    s.layout = {{"u", 1}};
    s.nodes = 16;
    s.frames = 3;
    return s;
  }
  std::uint64_t key;
  st::Receiver receiver;
  st::Front front;
  ServerControl control;
  std::unique_ptr<reservoir::Buffer<reservoir::Sample>> buffer;
  std::atomic<int> interrupted{0};
};

TEST(Feeder, FieldsItCannotUseAreDroppedAndCountedNeverFatal) {
  Rank rank({1, 2, 3});
  FeederSetup setup = rank.setup();
  setup.x_size = 2 + 1;  // two parameters and t
  setup.role_patience = std::chrono::milliseconds(200);
  Feeder feeder(setup, rank.receiver, rank.control, *rank.buffer, rank.interrupted);
  feeder.start();
  st::Front& front = rank.front;
  ServerControl& control = rank.control;

  send_steps(front.endpoint(), member(1, 4, 2), 0, 5);  // steps 3, 4: past the 3 frames
  send_steps(front.endpoint(), member(2, 8, 2), 0, 2);  // 8 x 8: not the model's 16 nodes
  send_steps(front.endpoint(), member(3, 4, 7), 0, 2);  // 7 parameters: x of another size
  send_steps(front.endpoint(), member(9, 4, 2), 0, 2);  // no rank knows simulation 9
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (feeder.rejected() + feeder.received() < 11 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  feeder.stop();
  control.stop();
  EXPECT_EQ(feeder.error(), "");
  EXPECT_EQ(feeder.received(), 3);
  const FeederDrops d = feeder.drops();
  EXPECT_EQ(d.bad_step, 2);
  EXPECT_EQ(d.unusable, 4);
  EXPECT_EQ(d.unknown_role, 2);
  EXPECT_EQ(feeder.rejected(), 8);
}

// A continuous study draws members without end: once a simulation ended with every frame
// made into samples, the feeder keeps its count only (not the set of its steps), and a
// checkpoint's record (steps written out) is compacted the same way when restored.
TEST(Feeder, KeepsOnlyTheCountOfACompleteSimulation) {
  Rank rank({1, 2});
  const FeederSetup setup = rank.setup();
  Feeder feeder(setup, rank.receiver, rank.control, *rank.buffer, rank.interrupted);
  feeder.start();
  st::Front& front = rank.front;
  ServerControl& control = rank.control;
  send_steps(front.endpoint(), member(1, 4, 2), 0, 3);  // every frame
  send_steps(front.endpoint(), member(2, 4, 2), 0, 2);  // ended early
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (feeder.delivered().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  feeder.stop();
  control.stop();
  EXPECT_EQ(feeder.error(), "");
  EXPECT_EQ(feeder.delivered(1), 3);
  EXPECT_EQ(feeder.delivered(2), 2);
  EXPECT_EQ(feeder.samples(), (std::map<std::uint64_t, std::int64_t>{{1, 3}, {2, 2}}));
  ReceptionState record;
  feeder.paused([&](const ReceptionState& s) { record = s; });
  EXPECT_EQ(record.complete, (std::map<std::uint64_t, std::int64_t>{{1, 3}}));
  EXPECT_EQ(record.steps.size(), 1u);
  EXPECT_EQ(record.steps.at(2), (std::set<std::int64_t>{0, 1}));  // kept: a retry resends

  ReceptionState checkpoint;  // as read_rank_state gives it: every simulation's steps
  checkpoint.steps = {{1, {0, 1, 2}}, {2, {0, 1}}};
  checkpoint.ended = {1, 2};
  Feeder restored(setup, rank.receiver, rank.control, *rank.buffer, rank.interrupted);
  restored.restore(checkpoint);
  restored.paused([&](const ReceptionState& s) { record = s; });
  EXPECT_EQ(record.complete, (std::map<std::uint64_t, std::int64_t>{{1, 3}}));
  EXPECT_EQ(record.steps.size(), 1u);
  EXPECT_EQ(restored.samples(), (std::map<std::uint64_t, std::int64_t>{{1, 3}, {2, 2}}));
}

}  // namespace
