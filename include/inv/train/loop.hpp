// inv/train/loop.hpp: the one training loop: epochs of shuffled mini-batches.
//
// Every trainer of the library runs it: train::fit (a classifier on a Dataset), the
// black-box attack's inverse network (attack/inverse_network.hpp) and the query-free
// attack's shadow model (attack/shadow.hpp). Each supplies only its loss on a batch:
//
//   train::LoopOptions o;  o.epochs = 10;  o.batch_size = 32;  o.seed = 7;  o.what = "decoder";
//   train::train_epochs(decoder, adam, &sched, n, o, [&](const train::BatchIndices& b) {
//     return train::BatchLoss{mse_loss(decoder.forward(data::gather_rows(v, b.indices)),
//                                      data::gather_rows(x, b.indices))};
//   });
//
// Epoch e visits the N items in data::epoch_order(N, true, seed, e), in batches of
// batch_size (the last may be smaller); the batches of epoch e depend only on (seed, e),
// so a run resumed at epoch e sees the batches an uninterrupted one does. Per batch:
// zero the gradients, loss, backward, optimiser step; after each epoch the scheduler
// steps. The model is in training mode during the loop and subnormals are flushed
// (inv/denormal.hpp) unless o.flush_denormal is false.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "inv/data/loader.hpp"
#include "inv/denormal.hpp"
#include "inv/nn/module.hpp"
#include "inv/optim/lr_scheduler.hpp"
#include "inv/optim/optimizer.hpp"
#include "inv/train/progress.hpp"

namespace inv::train {

/// One row of a training history (and of fit's CSV log).
struct EpochStats {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = NAN, val_loss = NAN, val_accuracy = NAN, lr = 0, seconds = 0,
         images_per_second = 0;
};

struct LoopOptions {
  int64_t epochs = 1;
  int64_t batch_size = 32;
  uint64_t seed = 0;            // the shuffling (data::epoch_order)
  std::string what;             // progress label: "<what> epoch 3/20" ("" = "epoch 3/20")
  bool quiet = false;           // no progress output
  bool flush_denormal = true;   // subnormals as zero while training (inv/denormal.hpp)
};

/// The batch the loss is asked for: its items (indices into the N items), epoch and index.
struct BatchIndices {
  std::vector<int64_t> indices;
  int64_t epoch = 0, batch = 0;
};

/// A batch's mean loss (a scalar with a graph to the parameters) and, for a classifier,
/// how many of its items were classified correctly (-1 = not a classifier).
struct BatchLoss {
  Tensor loss;
  int64_t correct = -1;
};

using BatchLossFn = std::function<BatchLoss(const BatchIndices&)>;
/// Called after every epoch with the history so far (its last row is the epoch just done);
/// it may fill in validation columns of that row, write logs or checkpoints.
using EpochEndFn = std::function<void(std::vector<EpochStats>& history)>;

namespace detail {

inline std::string loss_text(double mean_loss, double accuracy) {
  char buf[64];
  if (std::isnan(accuracy))
    std::snprintf(buf, sizeof buf, "loss %.4f", mean_loss);
  else
    std::snprintf(buf, sizeof buf, "loss %.4f  acc %.2f%%", mean_loss, 100 * accuracy);
  return buf;
}

}  // namespace detail

/// Trains epochs `history.size()` .. o.epochs - 1 of `model` (see the header) over `n`
/// items, appending one EpochStats per epoch to `history` (pass the restored history to
/// resume). `scheduler` may be null. Returns the history. Throws inv::Error for invalid
/// options and when a batch's loss is not finite ("<what>: the loss became nan at epoch
/// E, batch B"), leaving the parameters as they were after the previous batch.
inline std::vector<EpochStats> train_epochs(nn::Module& model, optim::Optimizer& opt, optim::StepLR* scheduler,
                                            int64_t n, const LoopOptions& o, const BatchLossFn& loss_of,
                                            const EpochEndFn& on_epoch_end = {},
                                            std::vector<EpochStats> history = {}) {
  const std::string who = o.what.empty() ? std::string("fit") : o.what;
  INV_CHECK(o.epochs >= 0, who, ": epochs must be >= 0, got ", o.epochs);
  INV_CHECK(o.batch_size >= 1, who, ": batch_size must be >= 1, got ", o.batch_size);
  INV_CHECK(n >= 0, who, ": the number of items must be >= 0, got ", n);
  Progress progress(o.quiet);
  nn::ModeGuard mode(model, true);
  FlushDenormalGuard flush(o.flush_denormal);
  const int64_t batches = (n + o.batch_size - 1) / o.batch_size;
  for (int64_t epoch = int64_t(history.size()); epoch < o.epochs; ++epoch) {
    EpochStats s;
    s.epoch = epoch + 1;
    s.lr = opt.lr();
    const auto t0 = std::chrono::steady_clock::now();
    progress.start((o.what.empty() ? "" : o.what + " ") + "epoch " + std::to_string(epoch + 1) + "/" +
                       std::to_string(o.epochs),
                   batches);
    const std::vector<int64_t> order = data::epoch_order(n, true, o.seed, epoch);
    double loss_sum = 0;
    int64_t seen = 0, correct = 0;
    bool classifier = false;
    for (int64_t b = 0; b < batches; ++b) {
      BatchIndices batch;
      const int64_t begin = b * o.batch_size, end = std::min(n, begin + o.batch_size);
      batch.indices.resize(static_cast<size_t>(end - begin));
      for (int64_t i = begin; i < end; ++i) batch.indices[static_cast<size_t>(i - begin)] = order[static_cast<size_t>(i)];
      batch.epoch = epoch;
      batch.batch = b;
      opt.zero_grad();
      BatchLoss l = loss_of(batch);
      const double v = l.loss.item();
      INV_CHECK(std::isfinite(v), who, ": the loss became ", std::isnan(v) ? "nan" : "inf", " at epoch ", epoch + 1,
                ", batch ", b + 1, " (lower the learning rate?)");
      l.loss.backward();
      opt.step();
      const int64_t size = int64_t(batch.indices.size());
      loss_sum += v * double(size);
      seen += size;
      if (l.correct >= 0) classifier = true, correct += l.correct;
      progress.update(b + 1, detail::loss_text(loss_sum / double(seen), classifier ? double(correct) / double(seen) : NAN),
                      seen);
    }
    if (scheduler) scheduler->step();
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    s.train_loss = seen ? loss_sum / double(seen) : NAN;
    if (classifier) s.train_accuracy = double(correct) / double(seen);
    s.images_per_second = s.seconds > 0 ? double(seen) / s.seconds : 0;
    history.push_back(s);
    if (on_epoch_end) on_epoch_end(history);
  }
  return history;
}

/// The mean training loss of each epoch of a history.
inline std::vector<double> losses(const std::vector<EpochStats>& history) {
  std::vector<double> out;
  for (const EpochStats& s : history) out.push_back(s.train_loss);
  return out;
}

}  // namespace inv::train
