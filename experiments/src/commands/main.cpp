// The `surge` executable.
#include "surge/experiments/cli.hpp"

int main(int argc, char** argv) { return surge::experiments::main_entry(argc, argv); }
