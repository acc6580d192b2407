#pragma once
// The `surge` command line: one executable, one sub-command per task (`run`, `resume`,
// `submit`, `solve`, `train`, `predict`, `keys`; `surge --help` lists them). Each command
// documents every option.

#include <functional>
#include <string>
#include <vector>

namespace surge::experiments {

struct Command {
  std::string name;
  std::string summary;
  // Runs the command with the arguments after its name; returns the exit code. Throws
  // core::Error for bad input or failures (main prints it).
  std::function<int(const std::vector<std::string>& args)> run;
};

// All commands, in the order `surge --help` lists them.
[[nodiscard]] const std::vector<Command>& commands();

// `surge run`: one online-training study from an experiment file.
int run_command(const std::vector<std::string>& args);
int resume_command(const std::vector<std::string>& args);
// `surge view`: the live page of an ended study (experiments/src/commands/view_command.cpp).
int view_command(const std::vector<std::string>& args);

// `surge train`: offline training from HDF5 files (experiments/src/commands/train_command.cpp).
int train_command(const std::vector<std::string>& args);
// `surge submit`: a study on Slurm, its server submitted as a batch job.
int submit_command(const std::vector<std::string>& args);

// `surge solve`: runs one ensemble member.
int solve_command(const std::vector<std::string>& args);

// `surge predict`: evaluates a trained surrogate (experiments/src/commands/predict_command.cpp).
int predict_command(const std::vector<std::string>& args);
// `surge keys DIR`: makes a CURVE server and client key pair
// (experiments/src/commands/keys_command.cpp).
int keys_command(const std::vector<std::string>& args);

// Text of `surge --version`.
[[nodiscard]] std::string version_text();

// Entry point shared by main() and the tests: parses argv, dispatches, catches errors,
// prints one line for each, and returns the exit code (0 ok, 1 failure, 2 bad usage).
int main_entry(int argc, char** argv);

}  // namespace surge::experiments
