// inv/inv.hpp: the umbrella header. Include this one to get the whole library.
#pragma once

#include "inv/error.hpp"
#include "inv/shape.hpp"
#include "inv/random.hpp"
#include "inv/parallel.hpp"
#include "inv/tensor.hpp"
#include "inv/autograd.hpp"
#include "inv/ops/shape_ops.hpp"
#include "inv/ops/reduce.hpp"
#include "inv/ops/elementwise.hpp"
#include "inv/ops/linalg.hpp"
#include "inv/ops/loss.hpp"
#include "inv/ops/total_variation.hpp"
#include "inv/metrics.hpp"
