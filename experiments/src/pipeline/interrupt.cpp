#include "pipeline/interrupt.hpp"

#include <signal.h>
#include <sys/prctl.h>

#include <cstdlib>

namespace surge::experiments {

namespace {

std::atomic<int> g_interrupted{0};
std::atomic<int> g_suspended{0};
extern "C" void on_interrupt(int) { g_interrupted = 1; }
// Under mpirun, Ctrl-C reaches the ranks as SIGCONT, SIGTERM 1 s later and SIGKILL 1 s after
// that (Open MPI's odls_base_sigkill_timeout): SIGCONT is the first word of it, unless it
// resumes a rank that Ctrl-Z (SIGTSTP, which mpirun forwards) had suspended.
extern "C" void on_suspend(int) {
  g_suspended = 1;
  raise(SIGSTOP);
}
extern "C" void on_continue(int) {
  if (g_suspended.exchange(0) == 0) g_interrupted = 1;
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  if (std::getenv("OMPI_COMM_WORLD_SIZE")) {
    // A rank whose mpirun was killed (SIGKILL: no SIGCONT/SIGTERM first) must not go on
    // training for nobody, holding its ports and its members.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct sigaction suspend {};
    suspend.sa_handler = on_suspend;
    sigaction(SIGTSTP, &suspend, nullptr);
    struct sigaction resume {};
    resume.sa_handler = on_continue;
    sigaction(SIGCONT, &resume, nullptr);
  }
}

bool interrupted() noexcept { return g_interrupted != 0; }

std::atomic<int>& interrupt_flag() noexcept { return g_interrupted; }

}  // namespace surge::experiments
