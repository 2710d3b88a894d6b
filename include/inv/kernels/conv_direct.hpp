// inv/kernels/conv_direct.hpp: direct convolution kernels for stride 1 and small depth.
//
// For convolutions with few input channels per output (LeNet's conv1/conv2, the CIFAR
// net's first layer, the decoders) building the im2col matrix costs as much as the
// GEMM itself. These kernels skip it: the input is copied once into a zero-padded
// buffer whose rows are wide enough for whole blocks of 8 output columns, and a
// register-blocked micro-kernel accumulates 4 output channels x up to 3 blocks of 8
// columns over every tap (c, i, j):
//
//   forward          y[o, oy, ox]  = Σ_{c,i,j} w[o,c,i,j] · xp[c, oy + i·dh, ox + j·dw]
//   backward_data    the forward of the flipped, transposed kernel over dy padded by
//                    (k - 1)·d - pad (the adjoint of a stride-1 convolution)
//   backward_weight  dw[o,c,i,j]   = Σ_{n,oy,ox} dy[n,o,oy,ox] · xp[n,c,oy + i·dh, ox + j·dw]
//
// Same contracts as the reference kernels (conv_naive.hpp), against which they are
// tested. The micro-kernels use the GCC/Clang vector extension for their registers.
// Work is split over (image, channel block) for the forward and over channel
// blocks for the weight gradient, each summing in a fixed order: results do not
// depend on the thread count.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "inv/kernels/conv_naive.hpp"
#include "inv/parallel.hpp"

namespace inv::kernels {

/// Where the direct kernels beat im2col + GEMM (measured with bench/bench_conv): stride 1,
/// a small depth, and enough output channels to fill the register blocks.
inline bool conv_direct_forward(const ConvGeometry& g) { return g.sh == 1 && g.sw == 1 && g.K() <= 256 && g.Og() >= 8; }
inline bool conv_direct_backward_data(const ConvGeometry& g) {
  return g.sh == 1 && g.sw == 1 && g.Og() * g.kh * g.kw <= 256 && g.Cg() >= 8;
}
inline bool conv_direct_backward_weight(const ConvGeometry& g) { return g.sh == 1 && g.sw == 1 && g.K() <= 256; }

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
/// init: 0 = zeros, 1 = bias, 2 = the existing y (accumulate).
template <class T, int OB>
void forward_block(const ConvGeometry& g, const T* xp, int64_t Hp, int64_t Wq, const T* w, const T* bias, int init,
                   T* y) {
  const int64_t OH = g.OH(), OW = g.OW(), ws = g.K();
  for (int64_t oy = 0; oy < OH; ++oy)
    for (int64_t ox0 = 0; ox0 < OW;) {
      const int64_t left = OW - ox0;
      auto run = [&](auto nb_tag) {
        constexpr int NB = decltype(nb_tag)::value;
        const int64_t cols = std::min<int64_t>(NB * kVec, left);
        // Start from the bias, zeros, or (accumulating) the current output.
        T start[OB][NB * kVec];
        for (int ob = 0; ob < OB; ++ob)
          for (int64_t e = 0; e < NB * kVec; ++e)
            start[ob][e] = init == 1 ? bias[ob] : (init == 2 && e < cols ? y[(ob * OH + oy) * OW + ox0 + e] : T(0));
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

/// y = conv(x, w) (+ bias), or y += conv(x, w) when accumulate. See the header.
template <class T>
void forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y, bool accumulate = false) {
  const Padded<T> xp(g, x);
  const int64_t Og = g.Og(), blocks = (Og + kOB - 1) / kOB, L = g.L();
  const int64_t tasks = g.N * g.groups * blocks;
  parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / (g.groups * blocks), gr = (t / blocks) % g.groups, b = t % blocks;
      const int64_t o0 = gr * Og + b * kOB;
      const int ob = static_cast<int>(std::min<int64_t>(kOB, (gr + 1) * Og - o0));
      const int init = accumulate ? 2 : (bias ? 1 : 0);
      with_block<T>(ob, [&](auto ob_tag) {
        forward_block<T, decltype(ob_tag)::value>(g, xp.image(g, n, gr), xp.Hp, xp.Wq, w + o0 * g.K(),
                                                  bias ? bias + o0 : nullptr, init, y + (n * g.O + o0) * L);
      });
    }
  });
}

/// dx += the adjoint of forward applied to dy (stride 1): a forward pass of the flipped,
/// transposed kernel over dy padded by (k - 1)·d - pad.
template <class T>
void backward_data(const ConvGeometry& g, const T* w, const T* dy, T* dx) {
  ConvGeometry t;  // dy (N, O, OH, OW) -> dx (N, C, H, W)
  t.N = g.N, t.C = g.O, t.H = g.OH(), t.W = g.OW(), t.O = g.C, t.kh = g.kh, t.kw = g.kw, t.dh = g.dh, t.dw = g.dw;
  t.groups = g.groups;
  t.pt = (g.kh - 1) * g.dh - g.pt, t.pb = (g.kh - 1) * g.dh - g.pb;
  t.pl = (g.kw - 1) * g.dw - g.pl, t.pr = (g.kw - 1) * g.dw - g.pr;
  // wt[c, o, kh-1-i, kw-1-j] = w[o, c, i, j] within each group.
  const int64_t Cg = g.Cg(), Og = g.Og(), kk = g.kh * g.kw;
  std::vector<T> wt(static_cast<size_t>(g.C * Og * kk));
  for (int64_t gr = 0; gr < g.groups; ++gr)
    for (int64_t o = 0; o < Og; ++o)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t k = 0; k < kk; ++k)
          wt[static_cast<size_t>(((gr * Cg + c) * Og + o) * kk + (kk - 1 - k))] = w[((gr * Og + o) * Cg + c) * kk + k];
  forward(t, dy, wt.data(), static_cast<const T*>(nullptr), dx, /*accumulate=*/true);
}

/// dw rows of OB output channels for one tap (c, i, j), summed over images, rows and columns.
template <class T, int OB>
void weight_tap(const ConvGeometry& g, const Padded<T>& xp, const T* dyp, int64_t OWr, int64_t gr, int64_t o0,
                int64_t tap, T* dw) {
  const int64_t OH = g.OH(), kk = g.kh * g.kw;
  const int64_t c = tap / kk, i = (tap / g.kw) % g.kh, j = tap % g.kw;
  // Two accumulator sets, alternating between consecutive rows, double the independent
  // FMA chains; they and the lanes are added in a fixed order at the end.
  Vec<T> acc[2][OB] = {};
  int parity = 0;
  for (int64_t n = 0; n < g.N; ++n) {
    const T* xi = xp.image(g, n, gr) + c * xp.Hp * xp.Wq + j * g.dw;
    const T* di = dyp + (n * g.O + o0) * OH * OWr;
    for (int64_t oy = 0; oy < OH; ++oy, parity ^= 1) {
      const T* xr = xi + (oy + i * g.dh) * xp.Wq;
      for (int64_t ox0 = 0; ox0 < OWr; ox0 += kVec) {
        Vec<T> xv, dv;
        load(xv, xr + ox0);
        for (int b = 0; b < OB; ++b) {
          load(dv, di + (b * OH + oy) * OWr + ox0);
          acc[parity][b] += dv * xv;
        }
      }
    }
  }
  for (int b = 0; b < OB; ++b) {
    T lanes[2][kVec];
    store(lanes[0], acc[0][b]);
    store(lanes[1], acc[1][b]);
    T s = T(0);
    for (int e = 0; e < kVec; ++e) s += lanes[0][e] + lanes[1][e];
    dw[(o0 + b) * g.Cg() * kk + tap] = s;
  }
}

/// dw = the weight gradient of forward. See the header.
template <class T>
void backward_weight(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
  const Padded<T> xp(g, x);
  const int64_t OH = g.OH(), OW = g.OW(), OWr = round_up(OW, kVec), Og = g.Og();
  // dy with rows padded to whole blocks (zeros beyond OW contribute nothing).
  std::vector<T> dyp(static_cast<size_t>(g.N * g.O * OH * OWr));
  pad_planes(dy, g.N * g.O, OH, OW, 0, 0, OH, OWr, dyp.data());
  constexpr int kWB = 4;  // output channels per weight-gradient block
  const int64_t blocks = (Og + kWB - 1) / kWB, taps = g.K();
  parallel_for(g.groups * blocks * taps, std::max<int64_t>(1, taps / 4), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t tap = t % taps, gr = t / (blocks * taps), o0 = gr * Og + (t / taps % blocks) * kWB;
      const int ob = static_cast<int>(std::min<int64_t>(kWB, (gr + 1) * Og - o0));
      with_block<T>(ob, [&](auto ob_tag) {
        weight_tap<T, decltype(ob_tag)::value>(g, xp, dyp.data(), OWr, gr, o0, tap, dw);
      });
    }
  });
}

}  // namespace direct
}  // namespace inv::kernels
