#include "live/live_server.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "live/live_page.hpp"
#include "surge/core/error.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

std::string random_token() {
  std::random_device device;  // /dev/urandom on Linux
  std::string token;
  for (int i = 0; i < 16; ++i) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned>(device() & 0xff));
    token += buf;
  }
  return token;
}

// Why binding HOST:PORT fails, in words ("" when it would not): the errno of a trial bind,
// which httplib does not report.
std::string bind_problem(const ServeAddress& a) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(a.port);
  if (const int rc = getaddrinfo(a.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return "'" + a.host + "' is not an interface address or host name (" + gai_strerror(rc) + ")";
  std::string problem;
  const int fd = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  int yes = 1;
  if (fd < 0) {
    problem = std::string("no socket: ") + std::strerror(errno);
  } else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) != 0 ||
             bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    if (errno == EADDRINUSE) {
      problem = "port " + port + " on " + a.host + " is in use";
    } else if (errno == EADDRNOTAVAIL) {
      problem = a.host + " is not an address of this machine";
    } else {
      problem = a.host + ":" + port + ": " + std::strerror(errno);
    }
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(found);
  return problem;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return in ? text.str() : std::string();
}

// The URL, readable by its owner only (the token is a password to the page).
void write_url_file(const fs::path& path, const std::string& url) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  SURGE_REQUIRE(fd >= 0, IoError, "cannot write " << path.string() << ": " << std::strerror(errno));
  const std::string line = url + "\n";
  const bool ok = fchmod(fd, 0600) == 0 &&
                  write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  close(fd);
  SURGE_REQUIRE(ok, IoError, "cannot write " << path.string() << ": " << std::strerror(errno));
}

}  // namespace

ServeAddress parse_serve_address(const std::string& text) {
  ServeAddress a;
  const auto colon = text.rfind(':');
  const std::string host = colon == std::string::npos ? text : text.substr(0, colon);
  if (!host.empty()) a.host = host;
  if (colon != std::string::npos) {
    const std::string port = text.substr(colon + 1);
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    SURGE_REQUIRE(
        !port.empty() && *end == '\0' && p >= 0 && p <= 65535, ConfigError,
        "--serve=" << text << ": the port must be a number in 0..65535 (0: any free one)");
    a.port = static_cast<int>(p);
  }
  return a;
}

fs::path chart_js_path() {
  if (const char* path = std::getenv("SURGE_CHART_JS")) return path;
  return "/usr/share/javascript/chart.js/chart.min.js";
}

LiveServer::LiveServer(const ServeAddress& address, StateJson state, const fs::path& url_file)
    : server_(std::make_unique<httplib::Server>()),
      state_(std::move(state)),
      token_(random_token()) {
  chart_js_ = read_file(chart_js_path());
  SURGE_REQUIRE(!chart_js_.empty(), IoError,
                "cannot serve the live page: no Chart.js at "
                    << chart_js_path().string() << " (apt-get install libjs-chart.js)");
  const std::string problem = bind_problem(address);
  SURGE_REQUIRE(problem.empty(), IoError, "cannot serve the live page: " << problem);
  // Two threads answer requests: the page polls once a second.
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  add_routes();
  int port = address.port;
  if (port == 0) {
    port = server_->bind_to_any_port(address.host);
  } else if (!server_->bind_to_port(address.host, port)) {
    port = -1;
  }
  SURGE_REQUIRE(port > 0, IoError,
                "cannot serve the live page on " << address.host << ":" << address.port);
  url_ = "http://" + address.host + ":" + std::to_string(port) + "/?token=" + token_;
  if (!url_file.empty()) write_url_file(url_file, url_);
  thread_ = std::thread([this] {
    try {
      server_->listen_after_bind();
    } catch (...) {  // the page stops; the study goes on
    }
  });
}

LiveServer::~LiveServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void LiveServer::add_routes() {
  // Every request carries the token: 401 without one, 403 with a wrong one.
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; style-src 'self' 'unsafe-inline'");
    if (!req.has_param("token")) {
      res.status = 401;
      res.set_content("this page needs the token of its URL (?token=...)\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.get_param_value("token") != token_) {
      res.status = 403;
      res.set_content("wrong token\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  std::string page = live_page_html();
  for (auto at = page.find("TOKEN"); at != std::string::npos; at = page.find("TOKEN"))
    page.replace(at, 5, token_);
  server_->Get("/", [page](const httplib::Request&, httplib::Response& res) {
    res.set_content(page, "text/html; charset=utf-8");
  });
  server_->Get("/page.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(live_page_script(), "text/javascript");
  });
  server_->Get("/chart.js", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(chart_js_, "text/javascript");
  });
  server_->Get("/state.json", [this](const httplib::Request&, httplib::Response& res) {
    try {
      res.set_content(state_(), "application/json");
    } catch (const std::exception& e) {
      res.status = 503;
      res.set_content(std::string("the study's state is not readable: ") + e.what() + "\n",
                      "text/plain");
    }
  });
}

}  // namespace surge::experiments
