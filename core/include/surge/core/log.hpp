#pragma once
// A small logger that prefixes elapsed time, MPI rank and component. Rank 0 logs at
// `info` by default; other ranks only warnings and errors unless told otherwise
// (SURGE_LOG_LEVEL, SURGE_LOG_ALL_RANKS=1, or `--log-level`).

#include <sstream>
#include <string>
#include <string_view>

namespace surge::core {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// Parses "debug", "info", "warn", "error", "off"; throws ConfigError otherwise.
[[nodiscard]] LogLevel parse_log_level(std::string_view text);

class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}

  [[nodiscard]] bool enabled(LogLevel level) const noexcept;
  void write(LogLevel level, std::string_view message) const;

  void debug(std::string_view m) const { write(LogLevel::debug, m); }
  void info(std::string_view m) const { write(LogLevel::info, m); }
  void warn(std::string_view m) const { write(LogLevel::warn, m); }
  void error(std::string_view m) const { write(LogLevel::error, m); }

  [[nodiscard]] const std::string& component() const noexcept { return component_; }

  // Process-wide settings. `configure` takes the MPI rank of this process (MpiSession passes
  // it after MPI_Init) and reads SURGE_LOG_LEVEL / SURGE_LOG_ALL_RANKS. The logger itself
  // never calls MPI, so that the solver-side client (libsurge_client.so) does not load it.
  static void configure(int rank);
  static void set_level(LogLevel level);
  static void set_all_ranks(bool all);
  [[nodiscard]] static int rank() noexcept;
  // True when stderr is a terminal (progress lines are then redrawn in place).
  [[nodiscard]] static bool on_terminal() noexcept;

 private:
  std::string component_;
};

}  // namespace surge::core

// SURGE_LOG(logger, info, "x = " << x): builds the message only when it will be printed.
#define SURGE_LOG(logger, level, msg)                                      \
  do {                                                                     \
    if ((logger).enabled(::surge::core::LogLevel::level)) {                \
      std::ostringstream surge_log_os_;                                    \
      surge_log_os_ << msg;                                                \
      (logger).write(::surge::core::LogLevel::level, surge_log_os_.str()); \
    }                                                                      \
  } while (0)
