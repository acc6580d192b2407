#pragma once
// The command line of `surge run` and `surge train`: one file, key=value overrides, and the
// options --help, --dry-run, --overwrite, --no-plots, --log-level L (applied at once).

#include <string>
#include <vector>

namespace surge::experiments {

struct StudyOptions {
  std::string file;
  std::vector<std::string> overrides;
  bool help = false, dry_run = false, overwrite = false, plots = true;
  bool resume = false;  // --resume: surge train only
};
// Throws core::ConfigError naming the argument (and `surge <command> --help`).
[[nodiscard]] StudyOptions parse_study_options(const std::vector<std::string>& args,
                                               const char* command);

}  // namespace surge::experiments
