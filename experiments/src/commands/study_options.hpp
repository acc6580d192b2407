#pragma once
// The command line of `surge run` and `surge train`: one file, key=value overrides, and the
// options --help, --dry-run, --overwrite, --no-plots, --log-level L (applied at once), and
// the live page's --serve[=HOST:PORT] and --serve-linger S (surge resume's too).

#include <optional>
#include <string>
#include <vector>

#include "pipeline/pipeline.hpp"

namespace surge::experiments {

// The live page's options, when given on the command line (they override study.serve and
// study.serve_linger_s).
struct ServeOptions {
  std::optional<std::string> address;
  std::optional<double> linger_s;
};
// Whether args[i] is --serve, --serve=HOST:PORT or --serve-linger S (then read, i moved past
// its value). Throws core::ConfigError on a bad address or a missing or negative S.
bool parse_serve_option(const std::vector<std::string>& args, std::size_t& i, ServeOptions& o);
// The page's address and linger into `options`: the command line's, else the file's keys.
// Throws core::ConfigError when the file's address is malformed.
void apply_serve_options(const ServeOptions& o, const std::string& key_address, double key_linger_s,
                         PipelineOptions& options);

struct StudyOptions {
  std::string file;
  std::vector<std::string> overrides;
  bool help = false, dry_run = false, overwrite = false, plots = true;
  bool resume = false;  // --resume: surge train only
  ServeOptions serve;
};
// Throws core::ConfigError naming the argument (and `surge <command> --help`).
[[nodiscard]] StudyOptions parse_study_options(const std::vector<std::string>& args,
                                               const char* command);

}  // namespace surge::experiments
