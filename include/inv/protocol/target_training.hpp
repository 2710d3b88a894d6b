// inv/protocol/target_training.hpp: training a target network by the papers' recipe
// (docs/protocol.md §2).
//
//   const auto& p = protocol::model_protocol("lenet");
//   Generator init(seed);
//   auto net = p.build(init);
//   train::FitOptions o;  o.seed = seed;  o.validation = &test;
//   protocol::train_target(*net, p.spec, p.recipe, train_set, o);
#pragma once

#include "inv/data/transforms.hpp"
#include "inv/optim/adam.hpp"
#include "inv/optim/lr_scheduler.hpp"
#include "inv/protocol/model_protocol.hpp"
#include "inv/train/fit.hpp"

namespace inv::protocol {

/// The CIFAR recipe's augmentation, on [0, 1] batches: a random horizontal flip (p 0.5),
/// then a random affine transform (rotation ±10°, translation 0.1, scale 0.9-1.1).
inline data::DataLoader::Transform paper_augmentation() {
  return [](data::Batch& b, Generator& g) {
    b.images = data::random_affine(data::random_horizontal_flip(b.images, 0.5, g), 10, 0.1, 0.9, 1.1, g);
  };
}

/// Trains `net` (a target of the model described by `spec`) on `train` (images in [0, 1])
/// by `recipe`: Adam(lr, eps 1e-3, AMSGrad) with the learning rate halved every
/// recipe.halve_every epochs, through train::fit. From `o` it takes the seed, validation
/// set, checkpoint, log, metadata and quietness; the recipe sets the epochs, batch size
/// and augmentation, and `spec` the normalisation. Returns fit's history. Throws
/// inv::Error as train::fit does, and for a recipe with epochs < 0, batch_size < 1 or lr <= 0.
inline std::vector<train::EpochStats> train_target(nn::Module& net, const models::ModelSpec& spec,
                                                   const TargetRecipe& recipe, const data::Dataset& train,
                                                   train::FitOptions o) {
  INV_CHECK(recipe.epochs >= 0 && recipe.batch_size >= 1 && recipe.lr > 0 && recipe.halve_every >= 0,
            "train_target: invalid recipe (epochs ", recipe.epochs, ", batch_size ", recipe.batch_size, ", lr ",
            recipe.lr, ", halve_every ", recipe.halve_every, ")");
  o.epochs = recipe.epochs;
  o.batch_size = recipe.batch_size;
  o.mean = spec.mean;
  o.std = spec.std;
  o.augment = recipe.augment ? paper_augmentation() : data::DataLoader::Transform();
  optim::Adam adam(net.parameters(), optim::AdamOptions::paper(recipe.lr));
  optim::StepLR sched(adam, recipe.halve_every > 0 ? recipe.halve_every : 1, recipe.halve_every > 0 ? 0.5 : 1.0);
  return train::fit(net, adam, &sched, train, o);
}

}  // namespace inv::protocol
