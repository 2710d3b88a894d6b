// files.cpp: output directories and interrupted runs (see files.hpp).
#include "files.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include <inv/error.hpp>

namespace cli {

namespace fs = std::filesystem;

namespace {

std::mutex g_mutex;
std::vector<std::string> g_dirs;
std::string g_note;

/// The PID of a temporary "NAME.tmp.PID", or -1 when `name` is not one.
long temporary_pid(const std::string& name) {
  const size_t at = name.rfind(".tmp.");
  if (at == std::string::npos || at + 5 >= name.size()) return -1;
  const std::string digits = name.substr(at + 5);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return -1;
  return std::atol(digits.c_str());
}

bool running(long pid) { return ::kill(pid_t(pid), 0) == 0 || errno == EPERM; }

/// Removes the temporaries in `dir` (recursively) whose PID satisfies `remove`.
template <class Predicate>
int remove_temporaries(const std::string& dir, Predicate remove) {
  int count = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const long pid = temporary_pid(it->path().filename().string());
    if (pid > 0 && it->is_regular_file(ec) && remove(pid)) {
      std::error_code rm;
      if (fs::remove(it->path(), rm)) ++count;
    }
  }
  return count;
}

void watch_signals(sigset_t set) {
  int sig = 0;
  if (sigwait(&set, &sig) != 0) return;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::fprintf(stderr, "\ninterrupted (%s): removing temporary files%s\n", strsignal(sig), g_note.c_str());
    const long self = long(::getpid());
    for (const auto& d : g_dirs) remove_temporaries(d, [&](long pid) { return pid == self; });
  }
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(128 + sig);
}

}  // namespace

void install_interrupt_handler() {
  // A signal the caller ignores stays ignored: `nohup inv sweep ...` must survive the
  // terminal closing (SIGHUP), and `inv ... &` from a script ignores SIGINT. (A blocked
  // signal is delivered to sigwait even when its disposition is SIG_IGN, so ignored
  // signals must not be added to the set.)
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) continue;
    sigaddset(&set, sig);
  }
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(watch_signals, set).detach();
}

void watch_directory(const std::string& dir) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_dirs.push_back(dir);
}

void set_interrupt_note(const std::string& note) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_note = note;
}

int clean_stale_temporaries(const std::string& dir) {
  return remove_temporaries(dir, [](long pid) { return !running(pid); });
}

void make_directories(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  INV_CHECK(!ec && fs::is_directory(dir), "cannot create directory '", dir, "': ",
            ec ? ec.message() : std::string("a file of that name exists"));
}

void check_writable(const std::string& dir) {
  const std::string probe = dir + "/.inv-write-probe.tmp." + std::to_string(::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  INV_CHECK(fd >= 0, "cannot write in '", dir, "': ", std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

void check_file_path(const std::string& path, const std::string& what) {
  INV_CHECK(!path.empty() && path.back() != '/', what, " '", path, "' ends in '/': expected a file name");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    INV_CHECK(!S_ISDIR(st.st_mode), what, " '", path, "' is a directory, expected a file name (e.g. ", path,
              "/model.invckpt)");
    INV_CHECK(S_ISREG(st.st_mode), what, " '", path, "' exists and is not a regular file; only regular files are "
              "replaced");
  }
}

std::string parent_directory(const std::string& path) {
  const fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : ".";
}

}  // namespace cli
