// inv/kernels/conv_direct.hpp: a direct convolution forward kernel for stride 1 and small depth.
//
// For convolutions with few input channels per output (LeNet's conv1/conv2, the CIFAR
// net's first layer, the decoders) building the im2col matrix costs as much as the
// GEMM itself. These kernels skip it: the input is copied once into a zero-padded
// buffer whose rows are wide enough for whole blocks of 8 output columns, and a
// register-blocked micro-kernel accumulates 4 output channels x up to 3 blocks of 8
// columns over every tap (c, i, j):
//
//   y[o, oy, ox] = Σ_{c,i,j} w[o,c,i,j] · xp[c, oy + i·dh, ox + j·dw]
//
// Same contract as conv2d_forward_naive (conv_naive.hpp), against which it is tested.
// The micro-kernel uses the GCC/Clang vector extension for its registers. Work is split
// over (image, channel block); each output is summed in a fixed order, so results do
// not depend on the thread count. (Direct backward kernels were measured too and lost
// to im2col + GEMM on every layer of the paper's networks, so the backward pass always
// uses GEMM.)
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "inv/kernels/conv_naive.hpp"
#include "inv/parallel.hpp"

namespace inv::kernels {

/// Where the direct forward beats im2col + GEMM (measured per layer, single thread): stride 1,
/// a moderate depth (64..256 taps: below, im2col is cheap; above, GEMM is efficient), and at
/// least 16 output channels to fill the register blocks. LeNet's conv2 (8 -> 16, 5x5) and the
/// decoders' transposed convolutions' adjoints qualify; conv1 (25 taps) and CIFAR layers do not.
inline bool conv_direct_forward(const ConvGeometry& g) {
  return g.sh == 1 && g.sw == 1 && g.K() >= 64 && g.K() <= 256 && g.Og() >= 16;
}

namespace direct {

constexpr int64_t kVec = 8;  // output columns per block
constexpr int kOB = 8;       // output channels per block (split in halves for wide rows)

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/// Copies planes (P, H, W) into zero-filled planes (P, Hp, Wq), the input placed at
/// (top, left); negative top/left crop the input instead.
template <class T>
void pad_planes(const T* x, int64_t P, int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hp, int64_t Wq,
                T* out) {
  parallel_for(P, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(Hp * Wq, 1)), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* o = out + p * Hp * Wq;
      std::fill(o, o + Hp * Wq, T(0));
      const int64_t c0 = std::max<int64_t>(0, -left), c1 = std::min<int64_t>(W, Wq - left);
      for (int64_t r = 0; r < Hp; ++r) {
        const int64_t sr = r - top;
        if (sr < 0 || sr >= H || c1 <= c0) continue;
        std::copy(x + (p * H + sr) * W + c0, x + (p * H + sr) * W + c1, o + r * Wq + left + c0);
      }
    }
  });
}

/// A block of 8 lanes of T in vector registers (GCC/Clang vector extension: one AVX
/// register for float, two for double), with unaligned loads and stores.
template <class T>
struct Lanes {
  typedef T type __attribute__((vector_size(kVec * sizeof(T))));
};
template <class T>
using Vec = typename Lanes<T>::type;
template <class T>
inline void load(Vec<T>& v, const T* p) {  // (an out-parameter: no vector return ABI)
  std::memcpy(&v, p, sizeof(v));
}
template <class T>
inline void store(T* p, const Vec<T>& v) {
  std::memcpy(p, &v, sizeof(v));
}

/// Dispatches a channel block of size ob (1..8) to its compile-time instance.
template <class T, class F>
void with_block(int ob, F&& f) {
  switch (ob) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 5: f(std::integral_constant<int, 5>{}); break;
    case 6: f(std::integral_constant<int, 6>{}); break;
    case 7: f(std::integral_constant<int, 7>{}); break;
    default: f(std::integral_constant<int, 8>{}); break;
  }
}

/// Accumulates OB output channels x NB column blocks at (oy, ox0) over every tap.
/// w points at the first channel's weights (row stride ws); acc is (OB, NB) vectors.
template <class T, int OB, int NB>
inline void micro_kernel(const T* xp, int64_t Hp, int64_t Wq, const T* w, int64_t ws, const ConvGeometry& g,
                         int64_t oy, int64_t ox0, Vec<T> (&acc)[OB][NB]) {
  const int64_t Cg = g.Cg();
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t i = 0; i < g.kh; ++i) {
      const T* row = xp + (c * Hp + oy + i * g.dh) * Wq + ox0;
      const T* wt = w + (c * g.kh + i) * g.kw;
      for (int64_t j = 0; j < g.kw; ++j) {
        Vec<T> xv[NB];
        for (int b = 0; b < NB; ++b) load(xv[b], row + j * g.dw + b * kVec);
        for (int ob = 0; ob < OB; ++ob) {
          const T wv = wt[ob * ws + j];
          for (int b = 0; b < NB; ++b) acc[ob][b] += wv * xv[b];
        }
      }
    }
}

/// One image, one group, one block of OB output channels: y (OB, OH, OW) from xp (Cg, Hp, Wq).
/// The accumulators start from the bias when there is one, else from zero.
template <class T, int OB>
void forward_block(const ConvGeometry& g, const T* xp, int64_t Hp, int64_t Wq, const T* w, const T* bias, T* y) {
  const int64_t OH = g.OH(), OW = g.OW(), ws = g.K();
  for (int64_t oy = 0; oy < OH; ++oy)
    for (int64_t ox0 = 0; ox0 < OW;) {
      const int64_t left = OW - ox0;
      auto run = [&](auto nb_tag) {
        constexpr int NB = decltype(nb_tag)::value;
        const int64_t cols = std::min<int64_t>(NB * kVec, left);
        T start[OB][NB * kVec];
        for (int ob = 0; ob < OB; ++ob)
          for (int64_t e = 0; e < NB * kVec; ++e) start[ob][e] = bias ? bias[ob] : T(0);
        // Registers: one block of columns keeps up to 8 channels' accumulators in flight
        // (enough independent FMA chains); wider rows take the channels 4 at a time.
        constexpr int Sub = NB == 1 ? OB : (OB < 4 ? OB : 4);
        for (int o0 = 0; o0 < OB; o0 += Sub) {
          auto part = [&](auto sub_tag) {
            constexpr int S = decltype(sub_tag)::value;
            Vec<T> acc[S][NB];
            for (int ob = 0; ob < S; ++ob)
              for (int b = 0; b < NB; ++b) load(acc[ob][b], &start[o0 + ob][b * kVec]);
            micro_kernel<T, S, NB>(xp, Hp, Wq, w + o0 * ws, ws, g, oy, ox0, acc);
            for (int ob = 0; ob < S; ++ob) {
              T out[NB * kVec];
              for (int b = 0; b < NB; ++b) store(&out[b * kVec], acc[ob][b]);
              std::copy(out, out + cols, y + ((o0 + ob) * OH + oy) * OW + ox0);
            }
          };
          if (OB - o0 >= Sub)
            part(std::integral_constant<int, Sub>{});
          else
            with_block<T>(OB - o0, part);
        }
        ox0 += cols;
      };
      if (left > 2 * kVec)
        run(std::integral_constant<int, 3>{});
      else if (left > kVec)
        run(std::integral_constant<int, 2>{});
      else
        run(std::integral_constant<int, 1>{});
    }
}

/// The padded input of a batch: (N·C, Hp, Wq) with rows wide enough for whole column blocks.
template <class T>
struct Padded {
  std::vector<T> data;
  int64_t Hp, Wq;
  Padded(const ConvGeometry& g, const T* x) {
    Hp = g.H + g.pt + g.pb;
    Wq = round_up(g.OW(), kVec) + (g.kw - 1) * g.dw;
    data.resize(static_cast<size_t>(g.N * g.C * Hp * Wq));
    pad_planes(x, g.N * g.C, g.H, g.W, g.pt, g.pl, Hp, Wq, data.data());
  }
  const T* image(const ConvGeometry& g, int64_t n, int64_t group) const {
    return data.data() + (n * g.C + group * g.Cg()) * Hp * Wq;
  }
};

/// y = conv(x, w) (+ bias). See the header.
template <class T>
void forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const Padded<T> xp(g, x);
  const int64_t Og = g.Og(), blocks = (Og + kOB - 1) / kOB, L = g.L();
  const int64_t tasks = g.N * g.groups * blocks;
  parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / (g.groups * blocks), gr = (t / blocks) % g.groups, b = t % blocks;
      const int64_t o0 = gr * Og + b * kOB;
      const int ob = static_cast<int>(std::min<int64_t>(kOB, (gr + 1) * Og - o0));
      with_block<T>(ob, [&](auto ob_tag) {
        forward_block<T, decltype(ob_tag)::value>(g, xp.image(g, n, gr), xp.Hp, xp.Wq, w + o0 * g.K(),
                                                  bias ? bias + o0 : nullptr, y + (n * g.O + o0) * L);
      });
    }
  });
}

}  // namespace direct
}  // namespace inv::kernels
