// inv/train/fit.hpp: training and evaluation loops for classifiers, with checkpoints.
//
//   auto net = models::lenet();
//   optim::Adam opt(net->parameters(), optim::AdamOptions::paper(1e-3));
//   optim::StepLR sched(opt, 20, 0.5);
//   train::FitOptions o;  o.epochs = 20;  o.mean = {0.5};  o.std = {0.5};
//   o.validation = &test;  o.checkpoint = "lenet.train.invckpt";  o.csv_log = "lenet.csv";
//   train::fit(*net, opt, &sched, train_set, o);
//
// fit() minimises the cross-entropy of the model's logits over shuffled mini-batches
// (augmented in [0, 1] by o.augment, then normalised with o.mean/o.std), reports
// progress, evaluates after every epoch, appends a CSV log, and writes a training
// checkpoint (model, optimiser, scheduler and the epoch count) atomically after every
// epoch. With o.resume, a run whose checkpoint exists continues after the last saved
// epoch and ends bitwise identical to an uninterrupted run: the batches of epoch e
// depend only on (seed, e). A non-finite loss stops training with inv::Error.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "inv/data/loader.hpp"
#include "inv/data/transforms.hpp"
#include "inv/denormal.hpp"
#include "inv/io/checkpoint.hpp"
#include "inv/nn/module.hpp"
#include "inv/ops/loss.hpp"
#include "inv/optim/lr_scheduler.hpp"
#include "inv/train/loop.hpp"
#include "inv/train/progress.hpp"

namespace inv::train {

/// Saves a module's state_dict atomically, with string metadata (e.g. the architecture).
inline void save_model(const std::string& path, const nn::Module& model,
                       const std::map<std::string, std::string>& metadata = {}) {
  io::Checkpoint ck;
  ck.tensors = model.state_dict();
  ck.metadata = metadata;
  io::save_checkpoint(path, ck);
}

/// Loads a checkpoint into the module; names and shapes must match exactly (the error
/// lists every difference, e.g. "conv1.weight: expected (8,1,5,5), found (6,1,5,5)").
/// Returns the checkpoint (for its metadata).
inline io::Checkpoint load_model(const std::string& path, nn::Module& model) {
  io::Checkpoint ck = io::load_checkpoint(path);
  io::load_into(model.state_dict(), ck);
  return ck;
}

struct EvalResult {
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;  // fraction in [0, 1]
  int64_t count = 0;
};

/// Mean cross-entropy and accuracy of `model` on `ds` (images normalised with mean/std),
/// in evaluation mode without gradients; the model's mode is restored afterwards.
inline EvalResult evaluate(nn::Module& model, const data::Dataset& ds, const std::vector<double>& mean,
                           const std::vector<double>& std, int64_t batch_size = 500) {
  nn::ModeGuard mode(model, false);
  NoGradGuard no_grad;
  EvalResult r;
  double loss_sum = 0;
  int64_t correct = 0;
  const data::DataLoader loader(ds, batch_size, false, 0);
  for (const data::Batch& b : loader.epoch(0)) {
    const Tensor logits = model.forward(data::normalize(b.images, mean, std));
    loss_sum += cross_entropy(logits, b.labels, Reduction::Sum).item();
    const auto pred = argmax(logits, 1);
    for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == b.labels[i];
    r.count += b.size();
  }
  if (r.count > 0) {
    r.loss = loss_sum / double(r.count);
    r.accuracy = double(correct) / double(r.count);
  }
  return r;
}

struct FitOptions {
  int64_t epochs = 20;
  int64_t batch_size = 32;
  uint64_t seed = 0;                                // shuffling and augmentation
  std::vector<double> mean{0.0}, std{1.0};          // per-channel normalisation of every batch
  data::DataLoader::Transform augment;              // applied to [0, 1] batches, before normalising
  const data::Dataset* validation = nullptr;        // evaluated after every epoch when set
  std::string checkpoint;                           // training checkpoint path ("" = none)
  bool resume = true;                               // continue from `checkpoint` if it exists
  std::string csv_log;                              // per-epoch log ("" = none)
  bool quiet = false;                               // no progress output
  std::map<std::string, std::string> metadata;      // stored in the checkpoint
  bool flush_denormal = true;                       // subnormals as zero while training (inv/denormal.hpp)
};

namespace detail {

inline const char* kCsvHeader = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_second\n";

inline std::string csv_row(const EpochStats& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%lld,%.8g,%.8g,%.8g,%.8g,%.8g,%.3f,%.1f\n", static_cast<long long>(s.epoch),
                s.train_loss, s.train_accuracy, s.val_loss, s.val_accuracy, s.lr, s.seconds, s.images_per_second);
  return buf;
}

inline std::vector<EpochStats> parse_history(const std::string& csv) {
  std::vector<EpochStats> out;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    EpochStats s;
    long long e = 0;
    if (std::sscanf(line.c_str(), "%lld,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &e, &s.train_loss, &s.train_accuracy, &s.val_loss,
                    &s.val_accuracy, &s.lr, &s.seconds, &s.images_per_second) == 8) {
      s.epoch = e;
      out.push_back(s);
    }
  }
  return out;
}

inline std::string history_csv(const std::vector<EpochStats>& h) {
  std::string csv = kCsvHeader;
  for (const auto& s : h) csv += csv_row(s);
  return csv;
}

inline std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * fraction);
  return buf;
}

inline std::string fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

}  // namespace detail

/// Trains `model` (see the header). Returns the whole history, including epochs restored
/// from a checkpoint. Throws inv::Error on a non-finite loss or a checkpoint that does not
/// match the model or the optimiser.
inline std::vector<EpochStats> fit(nn::Module& model, optim::Optimizer& opt, optim::StepLR* scheduler,
                                   const data::Dataset& train, const FitOptions& o) {
  INV_CHECK(o.epochs >= 0, "fit: epochs must be >= 0, got ", o.epochs);
  Progress progress(o.quiet);
  std::vector<EpochStats> history;
  int64_t start_epoch = 0;
  if (!o.checkpoint.empty() && o.resume && io::file_exists(o.checkpoint)) {
    const io::Checkpoint ck = io::load_checkpoint(o.checkpoint);
    nn::NamedTensors model_part, optim_part;
    for (const auto& [name, t] : ck.tensors) {
      if (name.rfind("model.", 0) == 0) model_part.emplace_back(name.substr(6), t);
      if (name.rfind("optim.", 0) == 0) optim_part.emplace_back(name.substr(6), t);
    }
    io::Checkpoint mck;
    mck.tensors = model_part;
    io::load_into(model.state_dict(), mck);
    opt.load_state_dict(optim_part);
    start_epoch = std::stoll(ck.metadata.at("epochs_done"));
    if (scheduler) scheduler->set_epoch(start_epoch);
    if (auto it = ck.metadata.find("history"); it != ck.metadata.end()) history = detail::parse_history(it->second);
    progress.message("resuming from " + o.checkpoint + " after epoch " + std::to_string(start_epoch));
  }

  data::DataLoader loader(train, o.batch_size, /*shuffle=*/true, o.seed);
  if (o.augment) loader.set_transform(o.augment);
  LoopOptions lo;
  lo.epochs = o.epochs;
  lo.batch_size = o.batch_size;
  lo.seed = o.seed;  // the loop's order is the loader's: data::epoch_order(N, true, seed, e)
  lo.quiet = o.quiet;
  lo.flush_denormal = o.flush_denormal;
  auto loss_of = [&](const BatchIndices& bi) {
    const data::Batch batch = loader.assemble(bi.indices, bi.epoch, bi.batch);
    const Tensor logits = model.forward(data::normalize(batch.images, o.mean, o.std));
    BatchLoss l{cross_entropy(logits, batch.labels), 0};
    const auto pred = argmax(logits.detach(), 1);
    for (size_t i = 0; i < pred.size(); ++i) l.correct += pred[i] == batch.labels[i];
    return l;
  };
  auto on_epoch_end = [&](std::vector<EpochStats>& h) {
    EpochStats& s = h.back();
    if (o.validation) {
      const EvalResult v = evaluate(model, *o.validation, o.mean, o.std);
      s.val_loss = v.loss;
      s.val_accuracy = v.accuracy;
      progress.message("epoch " + std::to_string(s.epoch) + ": validation loss " + detail::fixed4(v.loss) +
                       "  accuracy " + detail::percent(v.accuracy));
    }
    if (!o.csv_log.empty()) io::write_file_atomic(o.csv_log, detail::history_csv(h));
    if (!o.checkpoint.empty()) {
      io::Checkpoint ck;
      for (auto& [name, t] : model.state_dict()) ck.tensors.emplace_back("model." + name, t);
      for (auto& [name, t] : opt.state_dict()) ck.tensors.emplace_back("optim." + name, t);
      ck.metadata = o.metadata;
      ck.metadata["epochs_done"] = std::to_string(s.epoch);
      ck.metadata["history"] = detail::history_csv(h);
      io::save_checkpoint(o.checkpoint, ck);
    }
  };
  history.resize(size_t(std::min<int64_t>(int64_t(history.size()), start_epoch)));
  while (int64_t(history.size()) < start_epoch) {  // a checkpoint without its history
    EpochStats s;
    s.epoch = int64_t(history.size()) + 1;
    history.push_back(s);
  }
  history = train_epochs(model, opt, scheduler, train.size(), lo, loss_of, on_epoch_end, std::move(history));
  return history;
}

}  // namespace inv::train
