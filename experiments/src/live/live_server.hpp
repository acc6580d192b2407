#pragma once
// The live page's HTTP server (cpp-httplib): one page, Debian's Chart.js, and the study's
// state as JSON, every request checked against a random per-study token. Its threads only read
// what a callback returns; nothing it does can stop or slow a study beyond that callback.

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace surge::experiments {

// Where the page is served: `HOST:PORT`, `HOST` or `:PORT`; port 0 = any free port.
struct ServeAddress {
  std::string host = "127.0.0.1";
  int port = 0;
};
// Throws core::ConfigError naming `text` when it is not HOST[:PORT] with a port in 0..65535.
[[nodiscard]] ServeAddress parse_serve_address(const std::string& text);

class LiveServer {
 public:
  using StateJson = std::function<std::string()>;

  // Binds and starts serving at once. The URL (http://HOST:PORT/?token=...) is written to
  // `url_file` (mode 0600) unless empty. Throws core::IoError with one line saying why the
  // page cannot be served (an interface that is not this machine's, a port in use, Chart.js
  // not installed).
  LiveServer(const ServeAddress& address, StateJson state, const std::filesystem::path& url_file);
  ~LiveServer();
  LiveServer(const LiveServer&) = delete;
  LiveServer& operator=(const LiveServer&) = delete;

  [[nodiscard]] const std::string& url() const noexcept { return url_; }

 private:
  void add_routes();

  std::unique_ptr<httplib::Server> server_;
  StateJson state_;
  std::string token_, url_, chart_js_;
  std::thread thread_;
};

// The Chart.js that Debian's libjs-chart.js installs (SURGE_CHART_JS overrides the path).
[[nodiscard]] std::filesystem::path chart_js_path();

}  // namespace surge::experiments
