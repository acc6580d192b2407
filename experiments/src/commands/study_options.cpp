#include "commands/study_options.hpp"

#include <cstdlib>

#include "live/live_server.hpp"
#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"

namespace surge::experiments {

bool parse_serve_option(const std::vector<std::string>& args, std::size_t& i, ServeOptions& o) {
  const std::string& a = args[i];
  if (a == "--serve") {
    o.address = "127.0.0.1:0";
  } else if (a.rfind("--serve=", 0) == 0) {
    o.address = a.substr(8);
    (void)parse_serve_address(*o.address);  // malformed: a usage error, before anything starts
  } else if (a == "--serve-linger") {
    SURGE_REQUIRE(i + 1 < args.size(), ConfigError, "--serve-linger needs a number of seconds");
    const std::string& value = args[++i];
    char* end = nullptr;
    const double s = std::strtod(value.c_str(), &end);
    SURGE_REQUIRE(!value.empty() && *end == '\0' && s >= 0, ConfigError,
                  "--serve-linger " << value << ": seconds >= 0 expected");
    o.linger_s = s;
  } else {
    return false;
  }
  return true;
}

void apply_serve_options(const ServeOptions& o, const std::string& key_address, double key_linger_s,
                         PipelineOptions& options) {
  options.serve = o.address.value_or(key_address);
  if (!options.serve.empty()) (void)parse_serve_address(options.serve);
  options.serve_linger_s = o.linger_s.value_or(key_linger_s);
}

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
    } else if (parse_serve_option(args, i, o.serve)) {
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
