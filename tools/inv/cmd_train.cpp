// cmd_train.cpp: `inv train` — train a target network and save its checkpoint.
//
//   inv train --dataset fashion-mnist --model lenet --epochs 2 --out out/fmnist-lenet.invckpt
//
// Writes the model checkpoint (state + metadata), X.train.invckpt (resumed from when a run
// with the same settings was interrupted) and the per-epoch log X.csv. The same settings
// with another --epochs resume too, from any state not past the epochs asked for: the
// first E epochs of a longer run are an E-epoch run, so a long run can be cut short with
// Ctrl-C and finished at the epoch reached (--epochs E). A state that cannot be resumed
// (other settings, or past the epochs asked for) is moved to X.train.invckpt.old, never
// deleted.
//
//   inv train --model resnet20 --weights R.safetensors --dataset cifar10 --out r20.invckpt
//
// With --weights nothing is trained: the weights (trained elsewhere) are imported, their test
// accuracy is measured, and they are saved as a target checkpoint marked imported, with
// the file and its sha256 (target.hpp), for sweep, defend, attack and info.
#include <cstdio>

#include "commands.hpp"
#include "datasets.hpp"
#include "files.hpp"

namespace cli {

int cmd_train(const Args& args) {
  FlagSet f("train", "inv train [--dataset NAME|PATH] [--model NAME] [--weights FILE] [--out FILE] [flags]",
            "Trains a target network of the model table (the papers' LeNet or CIFAR CNN, or ResNet-20, ResNet-18, "
            "VGG-11 with BatchNorm) on a dataset with the "
            "reference recipe and writes a checkpoint with the model state and its metadata (model, dataset, test "
            "accuracy, epochs, seed). Progress goes to stderr; an interrupted run resumes from FILE's training "
            "checkpoint (.train.invckpt) when rerun with the same settings, also with a different --epochs that is "
            "not below the epochs it finished (so a long run stopped with Ctrl-C after E epochs is saved as an "
            "E-epoch target by rerunning with --epochs E). A training checkpoint that cannot be resumed is moved "
            "to FILE's .train.invckpt.old, not deleted. With --weights it trains nothing: it imports weights trained "
            "elsewhere, measures their test accuracy and writes them as a target checkpoint marked imported.");
  add_common_flags(f, true, true);
  add_input_flags(f, true);
  add_target_flags(f);
  f.section("output");
  f.text("out", "FILE", "out/<dataset>-<model>.invckpt", "the model checkpoint to write");
  if (!parse_or_help(f, args)) return 0;
  if (!f.positional().empty()) throw f.error("unexpected argument '" + f.positional()[0] + "'");
  check_weights_flags(f);

  Settings s;
  read_settings(f, s);
  apply_threads(s);
  const std::string out = f.get_text("out", "out/" + dataset_slug(s.dataset) + "-" + s.model + ".invckpt");
  const inv::models::ModelSpec spec = input_spec(s);
  const bool resizable = inv::protocol::model_protocol(s.model).any_input_size;
  const int channels = int(spec.input_shape[0]);
  if (!s.weights.empty()) {  // import: no training
    prepare_output_files({out}, "--out");
    const DataSource src = locate_dataset(s.dataset, s.data_dir);
    auto test = load_split(src, false, channels);
    fit_input_size(test, spec.input_shape, resizable, s.model, src.display + " (test set)");
    bool reused = false;
    const Target t = obtain_imported_target(s, src, test, out, reused);
    std::printf("%s: %s imported from %s (sha256 %s), not trained: %s %.2f%% (%s)\n", out.c_str(), s.model.c_str(),
                t.meta("source_file").c_str(), t.meta("sha256").c_str(), src.accuracy_label.c_str(),
                100 * t.test_accuracy(), count_of(t.meta_integer("test_images", 0), "image").c_str());
    return 0;
  }
  prepare_output_files({out, training_checkpoint_path(out), training_log_path(out)}, "--out");
  set_interrupt_note("; rerun the same command to resume after the last finished epoch");

  const DataSource src = locate_dataset(s.dataset, s.data_dir);
  auto train = load_split(src, true, channels);
  auto test = load_split(src, false, channels);
  fit_input_size(train, spec.input_shape, resizable, s.model, src.display + " (training set)");
  fit_input_size(test, spec.input_shape, resizable, s.model, src.display + " (test set)");
  const int64_t holdout = inv::protocol::holdout_size(s.target.holdout, train.size());
  s.target.holdout = holdout;

  const Target t = train_target(s, src, train, test, holdout, out);
  std::printf("%s: %s %.2f%% (%s) after %s on %s\n", out.c_str(), src.accuracy_label.c_str(),
              100 * t.test_accuracy(), count_of(test.size(), "image").c_str(),
              count_of(s.target.epochs, "epoch").c_str(), count_of(train.size() - holdout, "training image").c_str());
  std::printf("training log: %s\n", training_log_path(out).c_str());
  return 0;
}

}  // namespace cli
