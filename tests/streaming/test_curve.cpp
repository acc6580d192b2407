// CURVE end to end over loopback: key files (modes, permission check, content), the ZAP
// handler admitting only the client key on the front and the data sockets (refusals counted
// exactly), and a member joining from its environment with the client pair (the C API).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "surge/core/error.hpp"
#include "surge/streaming/client.h"
#include "surge/streaming/client.hpp"
#include "surge/streaming/curve.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/member_environment.hpp"
#include "surge/streaming/receiver.hpp"
#include "test_util.hpp"

using namespace surge::streaming;
namespace fs = std::filesystem;

namespace {

using test::eventually;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

// A scratch directory with a server pair, the client pair the server admits, and a stranger's
// pair.
struct Keys {
  fs::path dir = fs::temp_directory_path() / ("surge-curve-test-" + std::to_string(getpid()));
  Keys() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    (void)write_curve_keypair(file("server.key"), file("server.key_secret"));
    (void)write_curve_keypair(file("client.key"), file("client.key_secret"));
    (void)write_curve_keypair(file("stranger.key"), file("stranger.key_secret"));
  }
  ~Keys() { fs::remove_all(dir); }
  [[nodiscard]] std::string file(const char* name) const { return (dir / name).string(); }
  [[nodiscard]] ReceiverConfig server() const {
    ReceiverConfig c;
    c.experiment = "curve";
    c.curve.enabled = true;
    c.curve.server_secret_key_file = file("server.key_secret");
    c.curve.client_public_key_file = file("client.key");
    return c;
  }
  [[nodiscard]] ClientConfig client(const std::string& front, const char* who) const {
    ClientConfig c;
    c.front_endpoint = front;
    c.heartbeat_interval_ms = 0;
    c.curve.server_public_key_file = file("server.key");
    c.curve.client_public_key_file = file((std::string(who) + ".key").c_str());
    c.curve.client_secret_key_file = file((std::string(who) + ".key_secret").c_str());
    return c;
  }
};

MemberIdentity identity(std::uint64_t sim) {
  MemberIdentity id;
  id.experiment = "curve";
  id.simulation = sim;
  id.fields = {{"u", {4, 4}}};
  return id;
}

struct Ends {
  std::mutex mutex;
  std::condition_variable cv;
  int ends = 0, fields = 0;
  Receiver::Handler handler() {
    return [this](Delivery&& d) {
      std::lock_guard<std::mutex> lock(mutex);
      (d.kind == DeliveryKind::simulation_end ? ends : fields) += 1;
      cv.notify_all();
    };
  }
  bool wait_for(int n) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return ends >= n; });
  }
};

// A raw ZeroMQ socket with the stranger's CURVE pair (and the right server key) that tries
// once, never reconnecting: exactly one refusal.
zmq::socket_t stranger(zmq::context_t& ctx, zmq::socket_type type, const Keys& keys,
                       const std::string& endpoint) {
  zmq::socket_t s(ctx, type);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::reconnect_ivl, -1);
  s.set(zmq::sockopt::curve_serverkey, read_curve_key(keys.file("server.key")));
  s.set(zmq::sockopt::curve_publickey, read_curve_key(keys.file("stranger.key")));
  s.set(zmq::sockopt::curve_secretkey, read_curve_secret_key(keys.file("stranger.key_secret")));
  s.connect(endpoint);
  return s;
}

}  // namespace

TEST(StreamingCurve, KeyFilesAreWrittenWithTheirModesWhateverTheUmask) {
  if (!curve_available()) GTEST_SKIP() << "libzmq without CURVE";
  const mode_t old = ::umask(0);  // the widest: nothing narrows the modes for us
  Keys keys;
  ::umask(old);
  EXPECT_EQ(mode_of(keys.file("server.key_secret")), 0600u);
  EXPECT_EQ(mode_of(keys.file("client.key_secret")), 0600u);
  EXPECT_EQ(mode_of(keys.file("server.key")), 0644u);
  EXPECT_EQ(mode_of(keys.file("client.key")), 0644u);
  EXPECT_FALSE(fs::exists(keys.file("server.key_secret") + ".partial"));
  const std::string pub = read_curve_key(keys.file("server.key"));
  EXPECT_EQ(pub.size(), 40u);
  EXPECT_TRUE(is_z85_key(pub));
  EXPECT_NE(pub, read_curve_key(keys.file("client.key")));
}

TEST(StreamingCurve, SecretKeyReadableByOthersIsRefusedNamingTheFile) {
  if (!curve_available()) GTEST_SKIP() << "libzmq without CURVE";
  Keys keys;
  const std::string secret = keys.file("server.key_secret");
  ASSERT_EQ(::chmod(secret.c_str(), 0640), 0);
  try {
    Front front(keys.server(), make_admission_key(), {"tcp://127.0.0.1:1"});
    FAIL() << "a group-readable secret key was accepted";
  } catch (const surge::core::ConfigError& e) {
    EXPECT_EQ(e.message(), "CURVE secret key file '" + secret +
                               "' may be accessed by others (mode 640): run `chmod 600 " + secret +
                               "`");
  }
  ASSERT_EQ(::chmod(secret.c_str(), 0604), 0);
  EXPECT_THROW((void)read_curve_secret_key(secret), surge::core::ConfigError);
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  EXPECT_EQ(read_curve_secret_key(secret).size(), 40u);
  // A public key may be read by anyone.
  EXPECT_EQ(read_curve_key(keys.file("server.key")).size(), 40u);
}

TEST(StreamingCurve, KeyFileContentIsChecked) {
  if (!curve_available()) GTEST_SKIP() << "libzmq without CURVE";
  Keys keys;
  const std::string bad = keys.file("bad.key");
  std::ofstream(bad) << "tooshort\n";
  try {
    (void)read_curve_key(bad);
    FAIL();
  } catch (const surge::core::ConfigError& e) {
    EXPECT_EQ(e.message(), "CURVE key file '" + bad +
                               "' must hold one key of 40 Z85 characters (as `surge keys` "
                               "writes), found 8 characters");
  }
  std::ofstream(bad, std::ios::trunc) << std::string(39, 'a') << "~\n";  // '~' is not Z85
  try {
    (void)read_curve_key(bad);
    FAIL();
  } catch (const surge::core::ConfigError& e) {
    EXPECT_NE(e.message().find("does not hold a Z85 key"), std::string::npos) << e.message();
  }
  std::ofstream(bad, std::ios::trunc) << read_curve_key(keys.file("server.key")) << "\nextra\n";
  EXPECT_THROW((void)read_curve_key(bad), surge::core::ConfigError);
  EXPECT_THROW((void)read_curve_key(keys.file("missing.key")), surge::core::IoError);
}

TEST(StreamingCurve, OnlyTheClientKeyIsAdmittedAndEachRefusalIsCounted) {
  if (!curve_available()) GTEST_SKIP() << "libzmq without CURVE";
  Keys keys;
  Ends got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(keys.server(), key, 0, got.handler());
  Front front(keys.server(), key, {receiver.endpoint()});
  {
    Client c(keys.client(front.endpoint(), "client"), identity(1));
    auto v = test::global_field(1, 0, 0, 4, 4);
    c.send("u", 0, 0.0, Span<const double>(v));
  }
  ASSERT_TRUE(got.wait_for(1));
  EXPECT_EQ(front.stats().accepted, 1u);
  EXPECT_EQ(front.stats().curve_refused, 0u);

  // The stranger knows the server's public key but holds its own pair: refused on the front
  // and on the data socket, once each, and nothing reaches the decoder.
  zmq::context_t ctx;
  zmq::socket_t dealer = stranger(ctx, zmq::socket_type::dealer, keys, front.endpoint());
  zmq::socket_t push = stranger(ctx, zmq::socket_type::push, keys, receiver.endpoint());
  (void)push.send(zmq::str_buffer("final 1 2 3"), zmq::send_flags::dontwait);
  ASSERT_TRUE(eventually([&] { return front.stats().curve_refused >= 1; }));
  ASSERT_TRUE(eventually([&] { return receiver.curve_refused() >= 1; }));
  // The Client class (which reconnects) with the stranger's pair gives up after its timeout.
  ClientConfig wrong = keys.client(front.endpoint(), "stranger");
  wrong.handshake_timeout_ms = 300;
  EXPECT_THROW(Client(wrong, identity(2)), surge::core::ProtocolError);
  EXPECT_GE(front.stats().curve_refused, 2u);
  EXPECT_GE(front.stats().handshake_failures, 2u);
  EXPECT_EQ(receiver.curve_refused(), 1u);  // one attempt, one refusal
  EXPECT_EQ(front.stats().accepted, 1u);
  EXPECT_EQ(receiver.stats().messages, receiver.stats().accepted);
}

TEST(StreamingCurve, ServerWithoutAClientKeyAdmitsAnyClientHoldingItsPublicKey) {
  if (!curve_available()) GTEST_SKIP() << "libzmq without CURVE";
  Keys keys;
  ReceiverConfig config = keys.server();
  config.curve.client_public_key_file.clear();
  Ends got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(config, key, 0, got.handler());
  Front front(config, key, {receiver.endpoint()});
  ClientConfig ephemeral;  // no client pair: a fresh one per socket
  ephemeral.front_endpoint = front.endpoint();
  ephemeral.heartbeat_interval_ms = 0;
  ephemeral.curve.server_public_key_file = keys.file("server.key");
  {
    Client c(ephemeral, identity(3));
    auto v = test::global_field(3, 0, 0, 4, 4);
    c.send("u", 0, 0.0, Span<const double>(v));
  }
  ASSERT_TRUE(got.wait_for(1));
  EXPECT_EQ(front.stats().curve_refused, 0u);
}

TEST(StreamingCurve, MemberFromItsEnvironmentPresentsTheClientPair) {
  if (!curve_available()) GTEST_SKIP() << "libzmq without CURVE";
  Keys keys;
  Ends got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(keys.server(), key, 0, got.handler());
  Front front(keys.server(), key, {receiver.endpoint()});
  MemberEnvironment env;
  env.endpoint = front.endpoint();
  env.experiment = "curve";
  env.simulation = 4;
  env.server_public_key_file = keys.file("server.key");
  env.client_public_key_file = keys.file("client.key");
  env.client_secret_key_file = keys.file("client.key_secret");
  for (const std::string& entry : to_environment(env)) {
    const auto eq = entry.find('=');
    ::setenv(entry.substr(0, eq).c_str(), entry.substr(eq + 1).c_str(), 1);
  }
  surge_client* c = nullptr;
  const char* names[] = {"u"};
  const std::uint64_t shape[] = {4, 4};
  ASSERT_EQ(surge_client_init_from_env(&c, 0, 1, SURGE_FLOAT64, 1, names, 2, shape, 0, nullptr),
            SURGE_OK)
      << surge_client_last_error();
  const auto v = test::global_field(4, 0, 0, 4, 4);
  ASSERT_EQ(surge_client_send(c, "u", 0, 0.0, v.data(), nullptr, nullptr), SURGE_OK);
  ASSERT_EQ(surge_client_finalize(c), SURGE_OK);
  ASSERT_TRUE(got.wait_for(1));
  // Half a pair is an error naming both variables.
  ::unsetenv(kClientSecretKeyFileVariable);
  EXPECT_THROW((void)read_member_environment(), surge::core::ConfigError);
  for (const char* name : {kEndpointVariable, kExperimentVariable, kSimulationIdVariable,
                           kPublicKeyFileVariable, kClientPublicKeyFileVariable}) {
    ::unsetenv(name);
  }
  EXPECT_EQ(front.stats().curve_refused, 0u);
}
