// inv: model inversion attacks against split inference, from the command line.
//
//   inv sweep --dataset fashion-mnist --model lenet     the leakage report (the main job)
//   inv train --dataset mnist --epochs 20               train a target network
//   inv info out/mnist-lenet.invckpt                    its metadata, layers and split points
//   inv attack --checkpoint FILE --split ReLU2 --attack black-box
//
// Exit codes: 0 success, 1 a failure (inv::Error: missing data, corrupt file, ...),
// 2 a command-line mistake, 128 + N when stopped by signal N (see files.hpp).
// Every error is one line on stderr: "inv <command>: <message>".
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <inv/attack/registry.hpp>
#include <inv/error.hpp>

#include "commands.hpp"
#include "files.hpp"

namespace {

const std::string kUsage = std::string(
    "usage: inv <command> [flags]\n"
    "\n"
    "Model inversion attacks against split (collaborative) inference: a network is cut at a\n"
    "layer, the edge sends that layer's output to the cloud, and the cloud tries to recover\n"
    "the private input (He, Zhang & Lee, ACSAC 2019).\n"
    "\n"
    "commands:\n"
    "  sweep    every split layer x every attack on one dataset and model, with an HTML report\n"
    "           (the main job: inv sweep --dataset fashion-mnist --model lenet)\n"
    "  defend   defenses x levels x splits x attackers: the privacy-utility trade-off and a recommendation\n"
    "  train    train a target network (" + cli::join(inv::protocol::protocol_model_names()) + ") and save a checkpoint\n"
    "  info     print a checkpoint's metadata, layers, output shapes and split points\n"
    "  attack   run one attack (" + cli::join(inv::attack::attack_names()) + ") at one split layer\n"
    "\n"
    "Run 'inv <command> --help' for the flags of a command.\n"
    "Datasets: mnist, fashion-mnist (sudo apt-get install dataset-fashion-mnist), cifar10, or a path.\n");

/// The message on one line (some library errors list several problems, one a line).
std::string one_line(std::string m) {
  while (!m.empty() && m.back() == '\n') m.pop_back();
  for (size_t at; (at = m.find('\n')) != std::string::npos;) m.replace(at, 1, "; ");
  return m;
}

std::string quote_arg(const std::string& a) {
  if (!a.empty() && a.find_first_of(" \t\"'\\$`") == std::string::npos) return a;
  std::string q = "'";
  for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

int main(int argc, char** argv) {
  cli::install_interrupt_handler();  // before any other thread exists
  const std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty()) {
    std::fputs(kUsage.c_str(), stderr);
    return 2;
  }
  const std::string command = all[0];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage.c_str(), stdout);
    return 0;
  }
  const std::vector<std::string> args(all.begin() + 1, all.end());
  std::string command_line = "inv";
  for (const auto& a : all) command_line += " " + quote_arg(a);
  try {
    if (command == "sweep") return cli::cmd_sweep(args, command_line);
    if (command == "train") return cli::cmd_train(args);
    if (command == "info") return cli::cmd_info(args);
    if (command == "attack") return cli::cmd_attack(args, command_line);
    if (command == "defend") return cli::cmd_defend(args, command_line);
    std::fprintf(stderr, "inv: unknown command '%s'; valid commands: sweep, defend, train, info, attack (see inv --help)\n",
                 command.c_str());
    return 2;
  } catch (const cli::UsageError& e) {
    std::fflush(stdout);
    std::string m = one_line(e.what());
    if (m.rfind("inv ", 0) != 0) m = "inv " + command + ": " + m;
    std::fprintf(stderr, "%s\n", m.c_str());
    return 2;
  } catch (const inv::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "inv %s: error: %s\n", command.c_str(), one_line(e.what()).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "inv %s: unexpected error: %s\n", command.c_str(), one_line(e.what()).c_str());
    return 1;
  }
}
