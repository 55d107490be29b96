// A display for VTK's off-screen rendering: $DISPLAY, or a private Xvfb for this process.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "physynth/viz/viz.h"

namespace physynth::viz {

namespace {

// An Xvfb started with -displayfd (it writes its display number to the pipe once ready);
// terminated when the process exits.
class PrivateXvfb {
 public:
  PrivateXvfb() {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error(std::string("cannot start Xvfb: pipe: ") + std::strerror(errno));
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error(std::string("cannot start Xvfb: fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      close(fds[0]);
      const int devnull = open("/dev/null", O_RDWR);
      if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
      }
      const std::string fd = std::to_string(fds[1]);
      execlp("Xvfb", "Xvfb", "-displayfd", fd.c_str(), "-screen", "0", "2048x2048x24", "-nolisten", "tcp",
             static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    std::string number;
    char c = 0;
    while (read(fds[0], &c, 1) == 1 && c != '\n') number += c;
    close(fds[0]);
    if (number.empty()) {
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
      throw std::runtime_error(
          "plots need a display and none is set (DISPLAY), and a private Xvfb could not be started; install it "
          "(apt-get install xvfb, or scripts/install-deps.sh), run under xvfb-run -a, or set output.report.format "
          "to vtk for VTK files only");
    }
    display_ = ":" + number;
    setenv("DISPLAY", display_.c_str(), 1);
  }
  ~PrivateXvfb() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
      unsetenv("DISPLAY");
    }
  }
  PrivateXvfb(const PrivateXvfb&) = delete;
  PrivateXvfb& operator=(const PrivateXvfb&) = delete;

 private:
  pid_t pid_ = -1;
  std::string display_;
};

}  // namespace

void ensure_display() {
  static std::unique_ptr<PrivateXvfb> xvfb;
  const char* d = std::getenv("DISPLAY");
  if (xvfb || (d && *d)) return;
  xvfb = std::make_unique<PrivateXvfb>();
}

}  // namespace physynth::viz
