// cmd_info.cpp: `inv info CHECKPOINT` — what a target checkpoint holds.
//
// Prints the metadata (model, dataset, test accuracy, epochs, seed, ...), then every layer
// with its op, output shape and parameter count (Sequential::summary), then the layers
// that can serve as split points.
#include <cstdio>

#include "commands.hpp"

namespace cli {

int cmd_info(const Args& args) {
  FlagSet f("info", "inv info CHECKPOINT",
            "Prints a target checkpoint's metadata, its layers with output shapes and parameter counts, and the "
            "valid split points (--split of inv attack, --splits of inv sweep).");
  if (!parse_or_help(f, args)) return 0;
  if (f.positional().size() != 1)
    throw f.error(f.positional().empty() ? "missing CHECKPOINT (usage: inv info CHECKPOINT)"
                                         : "expected one CHECKPOINT, got " + std::to_string(f.positional().size()) +
                                               " arguments");
  Target t = load_target(f.positional()[0]);
  std::fputs(describe_target(t).c_str(), stdout);
  return 0;
}

}  // namespace cli
