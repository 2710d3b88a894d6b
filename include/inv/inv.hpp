// inv/inv.hpp: the umbrella header. Include this one to get the whole library, except
// what reads PNG and JPEG images: inv/io/image_decode.hpp and inv/data/image_folder.hpp,
// which need libpng and libjpeg (link the CMake target inv::image). Everything here needs
// only OpenMP, zlib and stb_image_write (inv::inv).
#pragma once

// Foundation: errors, shapes, random numbers, threads, tensors and autograd.
#include "inv/error.hpp"
#include "inv/shape.hpp"
#include "inv/random.hpp"
#include "inv/parallel.hpp"
#include "inv/denormal.hpp"
#include "inv/tensor.hpp"
#include "inv/autograd.hpp"

// Ops, each with its backward.
#include "inv/ops/shape_ops.hpp"
#include "inv/ops/reduce.hpp"
#include "inv/ops/elementwise.hpp"
#include "inv/ops/linalg.hpp"
#include "inv/ops/loss.hpp"
#include "inv/ops/total_variation.hpp"
#include "inv/ops/conv.hpp"
#include "inv/ops/pool.hpp"
#include "inv/ops/upsample.hpp"
#include "inv/ops/linear.hpp"
#include "inv/ops/batch_norm.hpp"
#include "inv/ops/dropout.hpp"

// Modules, optimisers and the model zoo.
#include "inv/nn/module.hpp"
#include "inv/nn/sequential.hpp"
#include "inv/nn/conv.hpp"
#include "inv/nn/linear.hpp"
#include "inv/nn/activation.hpp"
#include "inv/nn/pooling.hpp"
#include "inv/nn/batchnorm.hpp"
#include "inv/nn/dropout.hpp"
#include "inv/nn/residual.hpp"
#include "inv/optim/sgd.hpp"
#include "inv/optim/adam.hpp"
#include "inv/optim/lr_scheduler.hpp"
#include "inv/models/zoo.hpp"
#include "inv/models/resnet.hpp"
#include "inv/models/vgg.hpp"

// Data and files.
#include "inv/io/file.hpp"
#include "inv/io/crc32.hpp"
#include "inv/io/gzip.hpp"
#include "inv/io/checkpoint.hpp"
#include "inv/io/npy.hpp"
#include "inv/io/image.hpp"
#include "inv/io/sha256.hpp"
#include "inv/data/dataset.hpp"
#include "inv/data/idx.hpp"
#include "inv/data/cifar.hpp"
#include "inv/data/transforms.hpp"
#include "inv/data/loader.hpp"

// Image-quality metrics, training loops and the attacks.
#include "inv/metrics.hpp"
#include "inv/train/progress.hpp"
#include "inv/train/loop.hpp"
#include "inv/train/fit.hpp"
#include "inv/attack.hpp"
#include "inv/defense/noise.hpp"
#include "inv/defense/defended_edge.hpp"
#include "inv/defense/optimised_noise.hpp"
#include "inv/defense/fisher.hpp"
#include "inv/protocol/model_protocol.hpp"
#include "inv/protocol/rmle_settings.hpp"
#include "inv/protocol/attacker_data.hpp"
#include "inv/protocol/target_training.hpp"
