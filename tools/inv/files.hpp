// files.hpp: output directories, and what an interrupted run leaves behind.
//
// Every file the command writes goes through the library's atomic writers (a temporary
// NAME.tmp.PID, flushed, then renamed over NAME), so a file either has its old content or
// its complete new one. What an interruption can leave is the temporary itself:
//   * Ctrl-C / SIGTERM / SIGHUP: a watcher thread removes this process's temporaries from
//     the output directories, says so (and, for train and sweep, that a rerun resumes),
//     then exits with 128 + the signal number.
//   * SIGKILL or a crash cannot be caught; the next run in the same directory removes the
//     temporaries of processes that are no longer running (clean_stale_temporaries).
#pragma once

#include <string>

namespace cli {

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (call first in main, before
/// any other thread exists, so that every thread inherits the mask) and starts the
/// watcher thread that handles them as described above.
void install_interrupt_handler();

/// Adds a directory whose temporaries the interrupt handler removes.
void watch_directory(const std::string& dir);

/// What the interrupt message adds after "interrupted (SIGNAL): removing temporary files",
/// e.g. "; rerun the same command to resume" for the commands that resume (none by default).
void set_interrupt_note(const std::string& note);

/// Removes NAME.tmp.PID files in `dir` (recursively) whose process PID is not running.
/// Returns how many were removed.
int clean_stale_temporaries(const std::string& dir);

/// Creates a directory and its parents; throws inv::Error naming it on failure.
void make_directories(const std::string& dir);

/// Throws inv::Error naming `dir` unless a file can be created and removed in it (a probe
/// file NAME.tmp.PID, so that a kill in between leaves only a temporary the next run removes).
void check_writable(const std::string& dir);

/// Throws inv::Error unless `path` names a file that can be written (before any work, so
/// that nothing is computed for an output that cannot be saved): not ending in '/', not an
/// existing directory, device or other non-regular file. `what` names it ("--out").
void check_file_path(const std::string& path, const std::string& what);

/// The directory part of a path ("." when there is none).
std::string parent_directory(const std::string& path);

}  // namespace cli
