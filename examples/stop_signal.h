// examples/stop_signal.h — a clean stop on SIGINT (Ctrl-C) or SIGTERM (what a
// batch scheduler or `kill` sends), as a long job on a shared machine expects.
//
// The first signal only sets a flag: the training loop finishes the step it is
// in, writes its checkpoint (--save), prints how to resume, and exits with
// status 128 + the signal's number (130, 143), so a script can tell it stopped
// early. Stopping inside a step would leave the replicas half-updated and the
// checkpoint either stale or torn. A second signal means "now": the default
// action is restored and the signal raised again, ending the process at once.
//
//   examples::StopSignal stop;                 // installs the handlers, restores them when it goes
//   for (auto& b : loader) { dp.train_step(...); if (stop.requested()) break; }
#pragma once

#include <unistd.h>

#include <csignal>

namespace minidp::examples {

class StopSignal {
 public:
  StopSignal() {
    received_ = 0;
    struct sigaction sa {};
    sa.sa_handler = &StopSignal::on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // reads and waits in progress go on
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignal() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool requested() const { return received_ != 0; }
  int signal() const { return received_; }  // SIGINT or SIGTERM, 0 before any
  static const char* name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

 private:
  // Only async-signal-safe calls here: an atomic store, write(2), signal(2), raise(3).
  static void on_signal(int sig) {
    if (received_ != 0) {  // the second one: stop now
      std::signal(sig, SIG_DFL);
      std::raise(sig);
      return;
    }
    received_ = sig;
    const char msg[] = "\nstopping after this step (a second signal stops at once)\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, msg, sizeof(msg) - 1);
  }
  static inline volatile std::sig_atomic_t received_ = 0;
  struct sigaction old_int_ {}, old_term_ {};
};

}  // namespace minidp::examples
