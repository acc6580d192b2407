#include "surge/core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "surge/core/error.hpp"

namespace surge::core {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
std::atomic<bool> g_all_ranks{false};
std::atomic<int> g_rank{0};
std::mutex g_write_mutex;
const auto g_start = std::chrono::steady_clock::now();

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warning";
    case LogLevel::error:
      return "error";
    default:
      return "";
  }
}
}  // namespace

LogLevel parse_log_level(std::string_view text) {
  if (text == "debug") return LogLevel::debug;
  if (text == "info") return LogLevel::info;
  if (text == "warn" || text == "warning") return LogLevel::warn;
  if (text == "error") return LogLevel::error;
  if (text == "off") return LogLevel::off;
  SURGE_THROW(ConfigError,
              "unknown log level '" << text << "' (use debug, info, warn, error, off)");
}

bool Logger::enabled(LogLevel level) const noexcept {
  if (level == LogLevel::off) return false;
  int threshold = g_level.load(std::memory_order_relaxed);
  // Non-zero ranks stay quiet below warnings unless all ranks were asked to speak.
  if (g_rank.load(std::memory_order_relaxed) != 0 && !g_all_ranks.load(std::memory_order_relaxed)) {
    threshold = std::max(threshold, static_cast<int>(LogLevel::warn));
  }
  return static_cast<int>(level) >= threshold;
}

void Logger::write(LogLevel level, std::string_view message) const {
  if (!enabled(level)) return;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
  std::lock_guard<std::mutex> lock(g_write_mutex);
  std::fprintf(stderr, "[%9.3f r%d %s] %s%s%.*s\n", seconds, g_rank.load(), component_.c_str(),
               level >= LogLevel::warn ? level_name(level) : "",
               level >= LogLevel::warn ? ": " : "", static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
}

void Logger::configure(int rank) {
  g_rank = rank;
  if (const char* env = std::getenv("SURGE_LOG_LEVEL"); env && *env)
    set_level(parse_log_level(env));
  if (const char* env = std::getenv("SURGE_LOG_ALL_RANKS"); env && *env == '1') set_all_ranks(true);
}

void Logger::set_level(LogLevel level) { g_level = static_cast<int>(level); }
void Logger::set_all_ranks(bool all) { g_all_ranks = all; }
int Logger::rank() noexcept { return g_rank.load(); }
bool Logger::on_terminal() noexcept { return isatty(STDERR_FILENO) == 1; }

}  // namespace surge::core
