#include "surge/core/progress.hpp"

#include <cstdio>

namespace surge::core {

namespace {
std::string format_duration(double seconds) {
  char buffer[32];
  if (seconds < 0 || seconds > 1e7) return "?";
  const int s = static_cast<int>(seconds + 0.5);
  if (s >= 3600)
    std::snprintf(buffer, sizeof buffer, "%dh%02dm", s / 3600, (s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buffer, sizeof buffer, "%dm%02ds", s / 60, s % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%.1fs", seconds);
  return buffer;
}
}  // namespace

Progress::Progress(const Logger& logger, std::string unit, std::int64_t total,
                   double plain_interval_s)
    : logger_(logger),
      unit_(std::move(unit)),
      total_(total),
      interval_s_(plain_interval_s),
      terminal_(Logger::on_terminal()),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

Progress::~Progress() {
  if (drawn_ && !finished_) std::fputc('\n', stderr);
}

void Progress::update(std::int64_t done, std::string_view detail) {
  last_done_ = done;
  if (!logger_.enabled(LogLevel::info)) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (since < (terminal_ ? 0.2 : interval_s_)) return;
  last_print_ = now;
  print(done, detail, false);
}

void Progress::finish(std::string_view detail) {
  if (finished_) return;
  finished_ = true;
  if (!logger_.enabled(LogLevel::info)) return;
  print(last_done_ >= 0 ? last_done_ : total_, detail, true);
}

void Progress::finish(std::int64_t done, std::string_view detail) {
  last_done_ = done;
  finish(detail);
}

void Progress::print(std::int64_t done, std::string_view detail, bool final_line) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  char line[256];
  if (final_line) {
    std::snprintf(line, sizeof line, "done: %lld %s in %s (%.3g %s/s)%s%.*s",
                  static_cast<long long>(done), unit_.c_str(), format_duration(elapsed).c_str(),
                  rate, unit_.c_str(), detail.empty() ? "" : ", ", static_cast<int>(detail.size()),
                  detail.data());
  } else if (total_ > 0) {
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : -1.0;
    std::snprintf(line, sizeof line, "%lld/%lld %s (%5.1f%%) %.3g %s/s ETA %s%s%.*s",
                  static_cast<long long>(done), static_cast<long long>(total_), unit_.c_str(),
                  100.0 * static_cast<double>(done) / static_cast<double>(total_), rate,
                  unit_.c_str(), format_duration(eta).c_str(), detail.empty() ? "" : ", ",
                  static_cast<int>(detail.size()), detail.data());
  } else {
    std::snprintf(line, sizeof line, "%lld %s %.3g %s/s%s%.*s", static_cast<long long>(done),
                  unit_.c_str(), rate, unit_.c_str(), detail.empty() ? "" : ", ",
                  static_cast<int>(detail.size()), detail.data());
  }
  if (terminal_) {
    // Redraw in place; the final line ends with a newline so later output starts clean.
    std::fprintf(stderr, "\r\033[K[%s] %s%s", logger_.component().c_str(), line,
                 final_line ? "\n" : "");
    std::fflush(stderr);
    drawn_ = !final_line;
  } else {
    logger_.info(line);
  }
}

}  // namespace surge::core
