#include "commands/study_options.hpp"

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"

namespace surge::experiments {

StudyOptions parse_study_options(const std::vector<std::string>& args, const char* command) {
  StudyOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--dry-run") {
      o.dry_run = true;
    } else if (a == "--overwrite") {
      o.overwrite = true;
    } else if (a == "--no-plots") {
      o.plots = false;
    } else if (a == "--resume" && std::string(command) == "train") {
      o.resume = true;
    } else if (a == "--resume") {
      SURGE_THROW(ConfigError, "surge " << command
                                        << " has no --resume: a study continues from its last "
                                           "study checkpoint with `surge resume <output_dir>`");
    } else if (a == "--log-level") {
      SURGE_REQUIRE(i + 1 < args.size(), ConfigError, "--log-level needs a value");
      core::Logger::set_level(core::parse_log_level(args[++i]));
    } else if (a.rfind("--", 0) == 0) {
      SURGE_THROW(ConfigError, "unknown option '" << a << "' (see surge " << command << " --help)");
    } else if (core::is_override(a)) {
      o.overrides.push_back(a);
    } else if (o.file.empty()) {
      o.file = a;
    } else {
      SURGE_THROW(ConfigError, "unexpected argument '" << a << "' (keys are set as key=value)");
    }
  }
  return o;
}

}  // namespace surge::experiments
