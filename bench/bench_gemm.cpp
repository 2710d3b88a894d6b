// bench/bench_gemm.cpp: GFLOP/s of inv::kernels::gemm against the Eigen product it
// replaced (gemm_eigen, bench/gemm_eigen.hpp) and, when it can be loaded at run time, OpenBLAS's
// cblas_sgemm / cblas_dgemm, for square sizes and the shapes the library uses.
//
// Build and run (threads from OMP_NUM_THREADS):
//   g++ -std=c++17 -O3 -march=native -fopenmp -DNDEBUG -I include -I /usr/include/eigen3 bench/bench_gemm.cpp
//       -o bench_gemm
//   OMP_NUM_THREADS=1 ./bench_gemm            # all shapes
//   OMP_NUM_THREADS=2 ./bench_gemm 1024       # only shapes whose name contains "1024"
// OpenBLAS is looked up at $INV_BENCH_OPENBLAS, else Debian's OpenMP build; the
// column is left out when it cannot be loaded.
//
// The implementations run back to back in one process, in several rounds; each
// figure is the median over rounds of the median time of a round.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if __has_include(<dlfcn.h>)
#include <dlfcn.h>
#define INV_BENCH_HAVE_DLOPEN 1
#endif

#include "bench_util.hpp"
#include "gemm_eigen.hpp"
#include "inv/kernels/gemm.hpp"
#include "inv/parallel.hpp"

namespace {

// CBLAS enums: row-major 101, no transpose 111, transpose 112.
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                         int);
using DgemmFn = void (*)(int, int, int, int, int, int, double, const double*, int, const double*, int, double,
                         double*, int);
struct OpenBlas {
  SgemmFn sgemm = nullptr;
  DgemmFn dgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
};

OpenBlas load_openblas() {
  OpenBlas o;
#ifdef INV_BENCH_HAVE_DLOPEN
  const char* env = std::getenv("INV_BENCH_OPENBLAS");
  const char* path = env ? env : "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0";
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) return o;
  o.sgemm = reinterpret_cast<SgemmFn>(dlsym(h, "cblas_sgemm"));
  o.dgemm = reinterpret_cast<DgemmFn>(dlsym(h, "cblas_dgemm"));
  o.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"));
  if (!o.sgemm || !o.dgemm || !o.set_num_threads) return OpenBlas{};
#endif
  return o;
}

struct Shape {
  const char* what;
  bool ta, tb;
  int64_t M, N, K;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class T>
void run(const Shape& s, const OpenBlas& ob, int rounds) {
  const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N, ldc = s.N;
  std::vector<T> A(static_cast<size_t>(s.M * s.K)), B(static_cast<size_t>(s.K * s.N));
  std::vector<T> C(static_cast<size_t>(s.M * s.N)), C2(C.size());
  for (size_t i = 0; i < A.size(); ++i) A[i] = T(std::sin(0.37 * double(i)));
  for (size_t i = 0; i < B.size(); ++i) B[i] = T(std::cos(0.21 * double(i)));
  const double flop = 2.0 * double(s.M) * double(s.N) * double(s.K);
  auto ours = [&] { inv::kernels::gemm<T>(s.ta, s.tb, s.M, s.N, s.K, T(1), A.data(), lda, B.data(), ldb, T(0), C.data(), ldc); };
  auto eigen = [&] {
    inv::kernels::gemm_eigen<T>(s.ta, s.tb, s.M, s.N, s.K, T(1), A.data(), lda, B.data(), ldb, T(0), C2.data(), ldc);
  };
  auto blas = [&] {
    const int ta = s.ta ? 112 : 111, tb = s.tb ? 112 : 111;
    if constexpr (sizeof(T) == 4)
      ob.sgemm(101, ta, tb, int(s.M), int(s.N), int(s.K), 1.f, A.data(), int(lda), B.data(), int(ldb), 0.f, C2.data(),
               int(ldc));
    else
      ob.dgemm(101, ta, tb, int(s.M), int(s.N), int(s.K), 1.0, A.data(), int(lda), B.data(), int(ldb), 0.0,
               C2.data(), int(ldc));
  };
  // Budget per measurement: enough runs for a stable median, short for big sizes.
  const double seconds = 0.15;
  std::vector<double> t_ours, t_eigen, t_blas;
  for (int r = 0; r < rounds; ++r) {
    t_ours.push_back(inv::bench::median_ms(ours, 2, 5, seconds));
    t_eigen.push_back(inv::bench::median_ms(eigen, 2, 5, seconds));
    if (ob.sgemm) t_blas.push_back(inv::bench::median_ms(blas, 2, 5, seconds));
  }
  // The two results agree to rounding (a sanity check, not a test).
  eigen();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < C.size(); ++i) {
    diff = std::max(diff, std::abs(double(C[i]) - double(C2[i])));
    scale = std::max(scale, std::abs(double(C2[i])));
  }
  const double g_ours = flop / median(t_ours) / 1e6, g_eigen = flop / median(t_eigen) / 1e6;
  std::printf("%-6s %-26s %c%c %9.1f %9.1f", sizeof(T) == 4 ? "float" : "double", s.what, s.ta ? 'T' : 'N',
              s.tb ? 'T' : 'N', g_ours, g_eigen);
  if (ob.sgemm) {
    const double g_blas = flop / median(t_blas) / 1e6;
    std::printf(" %9.1f %6.0f%%", g_blas, 100.0 * g_ours / g_blas);
  }
  std::printf("   max|ours-eigen|/max|C| = %.1e\n", scale > 0 ? diff / scale : diff);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string filter = argc > 1 ? argv[1] : "";
  const int rounds = 3;
  const OpenBlas ob = load_openblas();
  if (ob.set_num_threads) ob.set_num_threads(inv::num_threads());
  std::printf("threads %d; GFLOP/s, median of %d rounds\n", inv::num_threads(), rounds);
  std::printf("%-6s %-26s %-2s %9s %9s", "type", "shape (M x N x K)", "op", "inv", "eigen");
  if (ob.sgemm) std::printf(" %9s %7s", "openblas", "inv/ob");
  std::printf("\n");
  const std::vector<Shape> squares = {{"64^3", false, false, 64, 64, 64},
                                      {"128^3", false, false, 128, 128, 128},
                                      {"256^3", false, false, 256, 256, 256},
                                      {"512^3", false, false, 512, 512, 512},
                                      {"1024^3", false, false, 1024, 1024, 1024}};
  const std::vector<Shape> library = {
      {"conv fwd 8x1152x25", false, false, 8, 1152, 25},
      {"linear fwd 16x128x200", false, true, 16, 128, 200},
      {"linear dW 200x128x16", true, false, 200, 128, 16},
      {"linear fwd 32x120x256", false, true, 32, 120, 256},
      {"conv fwd 64x2048x576", false, false, 64, 2048, 576},
      {"conv dX 576x2048x64", true, false, 576, 2048, 64},
      {"conv dW 64x576x2048", false, true, 64, 576, 2048},
      {"1024^3 A^T", true, false, 1024, 1024, 1024},
      {"1024^3 B^T", false, true, 1024, 1024, 1024},
  };
  auto selected = [&](const Shape& s) { return filter.empty() || std::strstr(s.what, filter.c_str()); };
  for (const Shape& s : squares)
    if (selected(s)) run<float>(s, ob, rounds);
  for (const Shape& s : library)
    if (selected(s)) run<float>(s, ob, rounds);
  for (const Shape& s : squares)
    if (selected(s)) run<double>(s, ob, rounds);
  for (const Shape& s : library)
    if (selected(s) && s.M * s.N * s.K >= (1 << 20)) run<double>(s, ob, rounds);
  return 0;
}
