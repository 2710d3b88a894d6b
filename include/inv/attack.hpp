// inv/attack.hpp: the three model-inversion attacks against collaborative inference.
#pragma once

#include "inv/attack/access.hpp"
#include "inv/attack/decoder.hpp"
#include "inv/attack/evaluate.hpp"
#include "inv/attack/inverse_network.hpp"
#include "inv/attack/rmle.hpp"
#include "inv/attack/shadow.hpp"
