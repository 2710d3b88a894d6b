// inv/attack.hpp: the model-inversion attacks against collaborative inference, and their
// catalogue (inv/attack/registry.hpp).
#pragma once

#include "inv/attack/access.hpp"
#include "inv/attack/decoder.hpp"
#include "inv/attack/evaluate.hpp"
#include "inv/attack/inverse_network.hpp"
#include "inv/attack/reconstruction.hpp"
#include "inv/attack/registry.hpp"
#include "inv/attack/rmle.hpp"
#include "inv/attack/shadow.hpp"
