// The C API's status codes from C (c_status_codes.c): this harness gives the C program a live
// server, a server it stops once the program is connected, and an endpoint where nothing
// listens; the program checks every code client.h documents and exits 0 only if each is right.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <zmq.hpp>

#include "surge/streaming/front.hpp"
#include "surge/streaming/member_environment.hpp"
#include "surge/streaming/receiver.hpp"
#include "test_util.hpp"

using namespace surge::streaming;
namespace fs = std::filesystem;

namespace {

// A front and one receiver of experiment "c-codes" that admit members without tickets.
struct Server {
  ReceiverConfig config = [] {
    ReceiverConfig c;
    c.experiment = "c-codes";
    return c;
  }();
  std::uint64_t key = make_admission_key();
  Receiver receiver{config, key, 0, [](Delivery&&) {}};
  Front front{config, key, {receiver.endpoint()}};
};

// A loopback endpoint that nothing listens on: a port bound, then released.
std::string unused_endpoint() {
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::rep);
  socket.bind("tcp://127.0.0.1:*");
  return socket.get(zmq::sockopt::last_endpoint);
}

}  // namespace

TEST(StreamingCApi, EveryDocumentedStatusCodeFromC) {
  const fs::path dir = fs::temp_directory_path() / ("surge_c_status_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  Server live;
  auto doomed = std::make_unique<Server>();
  const std::string cmd = std::string(SURGE_C_STATUS_CODES) + " " + live.front.endpoint() + " " +
                          doomed->front.endpoint() + " " + unused_endpoint() + " " + dir.string();
  int status = -1;
  std::atomic<bool> ended{false};
  std::thread program([&] {
    status = std::system(cmd.c_str());
    ended = true;
  });
  // Once the program is connected to the doomed server, that server goes away.
  const bool connected = test::eventually([&] { return ended || fs::exists(dir / "connected"); },
                                          std::chrono::seconds(60));
  doomed.reset();
  std::ofstream(dir / "server_gone").close();
  program.join();
  fs::remove_all(dir);
  EXPECT_TRUE(connected) << "the C program neither connected to the second server nor ended";
  ASSERT_TRUE(WIFEXITED(status)) << cmd;
  EXPECT_EQ(WEXITSTATUS(status), 0) << cmd;
}
