// The GEMM kernel: exact worked examples, agreement with the naive reference over
// transposes, sizes, leading dimensions, alpha and beta, beta = 0 ignoring NaN in C,
// and bitwise identical results for 1 and 2 threads.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "inv/kernels/gemm.hpp"
#include "inv/parallel.hpp"
#include "inv/random.hpp"

using inv::kernels::gemm;
using inv::kernels::gemm_naive;

namespace {

/// Operands of one product with padded leading dimensions, filled from a seed; C's
/// padding columns hold a sentinel that the kernel must leave alone.
template <class T>
struct Case {
  bool ta, tb;
  int64_t M, N, K, lda, ldb, ldc;
  T alpha, beta;
  std::vector<T> A, B, C;

  Case(bool ta_, bool tb_, int64_t M_, int64_t N_, int64_t K_, T alpha_, T beta_, uint64_t seed, int64_t pad = 3)
      : ta(ta_), tb(tb_), M(M_), N(N_), K(K_), alpha(alpha_), beta(beta_) {
    lda = (ta ? M : K) + pad;
    ldb = (tb ? K : N) + (pad + 1) / 2;
    ldc = N + pad;
    inv::Generator g(seed);
    auto fill = [&](std::vector<T>& v, size_t n) {
      v.resize(n);
      for (T& x : v) x = static_cast<T>(2.0 * g.uniform() - 1.0);
    };
    fill(A, static_cast<size_t>((ta ? K : M) * lda));
    fill(B, static_cast<size_t>((tb ? N : K) * ldb));
    fill(C, static_cast<size_t>(M * ldc));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = N; j < ldc; ++j) C[static_cast<size_t>(i * ldc + j)] = T(777);
  }
  T a(int64_t i, int64_t k) const { return A[static_cast<size_t>(ta ? k * lda + i : i * lda + k)]; }
  T b(int64_t k, int64_t j) const { return B[static_cast<size_t>(tb ? j * ldb + k : k * ldb + j)]; }

  std::vector<T> run(void (*f)(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*,
                               int64_t)) const {
    std::vector<T> c = C;
    f(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, c.data(), ldc);
    return c;
  }
};

/// Checks `got` against gemm_naive element by element, with a tolerance scaled by
/// |alpha|·Σ|a||b| + |beta·c| and sqrt(K); the padding columns must be untouched.
template <class T>
void check_against_naive(const Case<T>& c, const std::vector<T>& got, double rel) {
  const std::vector<T> want = c.run(gemm_naive<T>);
  int bad = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.ldc; ++j) {
      const size_t at = static_cast<size_t>(i * c.ldc + j);
      if (j >= c.N) {
        if (got[at] != T(777)) ++bad;
        continue;
      }
      double scale = c.beta == T(0) ? 0.0 : std::abs(double(c.beta) * double(c.C[at]));
      for (int64_t k = 0; k < c.K; ++k) scale += std::abs(double(c.alpha) * double(c.a(i, k)) * double(c.b(k, j)));
      const double tol = rel * std::sqrt(double(c.K) + 1.0) * scale + std::numeric_limits<T>::min();
      if (!(std::abs(double(got[at]) - double(want[at])) <= tol)) ++bad;
    }
  }
  INFO("op " << (c.ta ? 'T' : 'N') << (c.tb ? 'T' : 'N') << " M " << c.M << " N " << c.N << " K " << c.K << " alpha "
             << c.alpha << " beta " << c.beta << " lda " << c.lda << " ldb " << c.ldb << " ldc " << c.ldc);
  CHECK(bad == 0);
}

const std::vector<int64_t> kSizes = {0, 1, 2, 5, 7, 16, 17, 33, 64, 100, 257};

/// A sample of the (M, N, K) grid over kSizes: every size in every position, and
/// products of at most ~2.5M multiply-adds (the naive reference is the slow part).
std::vector<std::array<int64_t, 3>> sampled_sizes(uint64_t seed) {
  std::vector<std::array<int64_t, 3>> out;
  const size_t n = kSizes.size();
  for (size_t i = 0; i < n; ++i) {
    out.push_back({kSizes[i], kSizes[(i * 3 + 1) % n], kSizes[(i * 7 + 4) % n]});
    out.push_back({kSizes[(i * 5 + 2) % n], kSizes[i], kSizes[(i * 2 + 7) % n]});
    out.push_back({kSizes[(i * 4 + 3) % n], kSizes[(i * 9 + 5) % n], kSizes[i]});
  }
  inv::Generator g(seed);
  for (int r = 0; r < 12; ++r)
    out.push_back({kSizes[g.randint(n)], kSizes[g.randint(n)], kSizes[g.randint(n)]});
  std::vector<std::array<int64_t, 3>> kept;
  for (const auto& s : out)
    if (s[0] * s[1] * s[2] <= 2600000) kept.push_back(s);
  return kept;
}

/// Runs f with the thread count set to n, then restores the previous count.
template <class F>
void with_threads(int n, F&& f) {
  const int before = inv::num_threads();
  inv::set_num_threads(n);
  f();
  inv::set_num_threads(before);
}

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// Worked examples (integers, exact in floating point).
// ---------------------------------------------------------------------------

TEST_CASE("gemm worked example: 2x3 times 3x2, all four transposes", "[gemm][worked]") {
  // A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]]: A·B = [[58,64],[139,154]].
  const std::vector<float> A = {1, 2, 3, 4, 5, 6}, At = {1, 4, 2, 5, 3, 6};
  const std::vector<float> B = {7, 8, 9, 10, 11, 12}, Bt = {7, 9, 11, 8, 10, 12};
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      std::vector<float> C(4, std::numeric_limits<float>::quiet_NaN());
      gemm<float>(ta, tb, 2, 2, 3, 1.f, ta ? At.data() : A.data(), ta ? 2 : 3, tb ? Bt.data() : B.data(), tb ? 3 : 2,
                  0.f, C.data(), 2);
      INFO("trans_a " << ta << " trans_b " << tb);
      CHECK(C == std::vector<float>{58, 64, 139, 154});
    }
}

TEST_CASE("gemm worked example: alpha, beta and leading dimensions", "[gemm][worked]") {
  // The same product stored with lda = 4, ldb = 3, ldc = 3 (padding marked 99):
  // C = 2·A·B − 1·C with C = [[1,2],[3,4]] gives [[115,126],[275,304]].
  const std::vector<double> A = {1, 2, 3, 99, 4, 5, 6, 99};
  const std::vector<double> B = {7, 8, 99, 9, 10, 99, 11, 12, 99};
  std::vector<double> C = {1, 2, 99, 3, 4, 99};
  gemm<double>(false, false, 2, 2, 3, 2.0, A.data(), 4, B.data(), 3, -1.0, C.data(), 3);
  CHECK(C == std::vector<double>{115, 126, 99, 275, 304, 99});
}

TEST_CASE("gemm worked example: K = 0 scales C by beta, beta = 0 clears it", "[gemm][worked]") {
  std::vector<float> C = {1, -2, 3, std::numeric_limits<float>::quiet_NaN()};
  gemm<float>(false, false, 2, 2, 0, 1.f, nullptr, 1, nullptr, 2, 3.f, C.data(), 2);
  CHECK(C[0] == 3.f);
  CHECK(C[1] == -6.f);
  CHECK(C[2] == 9.f);
  gemm<float>(true, true, 2, 2, 0, 1.f, nullptr, 2, nullptr, 1, 0.f, C.data(), 2);
  CHECK(C == std::vector<float>{0, 0, 0, 0});
  // M = 0 or N = 0: nothing is touched.
  gemm<float>(false, false, 0, 2, 3, 1.f, nullptr, 3, nullptr, 2, 0.f, C.data(), 2);
  gemm<float>(false, false, 2, 0, 3, 1.f, nullptr, 3, nullptr, 1, 0.f, C.data(), 1);
  CHECK(C == std::vector<float>{0, 0, 0, 0});
}

TEST_CASE("gemm worked example: 7x19 integers cover full and partial micro-tiles", "[gemm][worked]") {
  // A(i,k) = i − k, B(k,j) = k + j, K = 20: C(i,j) = Σ_k (i − k)(k + j)
  //   = 20·i·j + 190·(i − j) − 2470, exact in float.
  const int64_t M = 7, N = 19, K = 20;
  std::vector<float> A(M * K), B(K * N), C(M * N, std::numeric_limits<float>::quiet_NaN());
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k) A[size_t(i * K + k)] = float(i - k);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) B[size_t(k * N + j)] = float(k + j);
  gemm<float>(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);
  int bad = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) bad += C[size_t(i * N + j)] != float(20 * i * j + 190 * (i - j) - 2470);
  CHECK(bad == 0);
  CHECK(C[0] == -2470.f);
  CHECK(C[size_t(6 * N + 18)] == 20.f * 6 * 18 + 190.f * (6 - 18) - 2470.f);
}

// ---------------------------------------------------------------------------
// Agreement with the naive reference.
// ---------------------------------------------------------------------------

TEMPLATE_TEST_CASE("gemm agrees with gemm_naive over transposes, sizes, alpha, beta and leading dims",
                   "[gemm][reference]", float, double) {
  using T = TestType;
  const double rel = sizeof(T) == 4 ? 1e-5 : 1e-12;
  const T alphas[] = {T(1), T(-0.5)}, betas[] = {T(0), T(1), T(2)};
  uint64_t seed = 1;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      int variant = 0;
      for (const auto& s : sampled_sizes(100 + 2 * ta + tb)) {
        const T alpha = alphas[variant % 2], beta = betas[variant % 3];
        const Case<T> c(ta, tb, s[0], s[1], s[2], alpha, beta, seed++, /*pad=*/variant % 4);
        check_against_naive(c, c.run(gemm<T>), rel);
        ++variant;
      }
    }
}

TEMPLATE_TEST_CASE("gemm agrees with gemm_naive on the library's shapes and across the blocking edges",
                   "[gemm][reference]", float, double) {
  using T = TestType;
  const double rel = sizeof(T) == 4 ? 1e-5 : 1e-12;
  // conv forward (N N), linear forward (N T), linear weight gradient (T N), conv data
  // gradient (T N), conv weight gradient (N T); K of 2–3 cache blocks (K > 256); more
  // columns than one B block (N > 4080); many row blocks reusing packed B (M = 2400).
  const struct {
    bool ta, tb;
    int64_t M, N, K;
  } shapes[] = {{false, false, 8, 1152, 25},  {false, true, 16, 128, 200}, {true, false, 200, 128, 16},
                {false, true, 32, 120, 256},  {false, false, 64, 300, 576}, {true, false, 130, 200, 64},
                {false, true, 20, 100, 600},  {true, true, 45, 70, 513},    {false, false, 3, 4100, 3},
                {true, false, 2400, 3, 5}};
  uint64_t seed = 500;
  for (const auto& s : shapes) {
    const Case<T> c(s.ta, s.tb, s.M, s.N, s.K, T(2.5), T(-0.3), seed++);
    check_against_naive(c, c.run(gemm<T>), rel);
  }
}

TEMPLATE_TEST_CASE("gemm with beta = 0 does not read C: NaN in C gives finite results", "[gemm][nan]", float,
                   double) {
  using T = TestType;
  const struct {
    bool ta, tb;
    int64_t M, N, K;
  } shapes[] = {{false, false, 7, 19, 5},    {true, true, 1, 1, 1},    {false, true, 16, 128, 200},
                {false, false, 64, 70, 300}, {true, false, 100, 33, 17}};
  uint64_t seed = 700;
  for (const auto& s : shapes) {
    Case<T> c(s.ta, s.tb, s.M, s.N, s.K, T(1), T(0), seed++);
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) c.C[size_t(i * c.ldc + j)] = std::numeric_limits<T>::quiet_NaN();
    const std::vector<T> got = c.run(gemm<T>);
    int non_finite = 0;
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) non_finite += !std::isfinite(got[size_t(i * c.ldc + j)]);
    INFO("M " << s.M << " N " << s.N << " K " << s.K);
    CHECK(non_finite == 0);
    check_against_naive(c, got, sizeof(T) == 4 ? 1e-5 : 1e-12);
  }
}

// ---------------------------------------------------------------------------
// Determinism.
// ---------------------------------------------------------------------------

TEMPLATE_TEST_CASE("gemm is bitwise identical for 1 and 2 threads, and nested in a parallel region", "[gemm][threads]",
                   float, double) {
  using T = TestType;
  // Large enough to run in parallel (tiles and packing split over threads): square,
  // the conv and linear shapes, several K blocks, several B blocks (N > 4080). alpha and
  // beta are not powers of two, so that C = alpha·AB + beta·C has two products to round.
  const struct {
    bool ta, tb;
    int64_t M, N, K;
  } shapes[] = {{false, false, 300, 310, 290}, {false, false, 64, 2048, 576}, {true, false, 576, 700, 64},
                {false, true, 64, 576, 700},   {false, true, 16, 1000, 300},  {true, true, 100, 4200, 40},
                // The threads split the last two column panels, which one thread computes as a pair.
                {false, true, 30, 278, 154}};
  uint64_t seed = 800;
  for (const auto& s : shapes) {
    const Case<T> c(s.ta, s.tb, s.M, s.N, s.K, T(2.5), T(-0.3), seed++);
    std::vector<T> one, two, nested;
    with_threads(1, [&] { one = c.run(gemm<T>); });
    with_threads(2, [&] {
      CHECK(inv::num_threads() == 2);
      two = c.run(gemm<T>);
      // Inside a region gemm runs serially on the calling thread.
      nested = c.C;
      inv::parallel_for(2, 1, [&](int64_t b, int64_t) {
        if (b == 0)
          gemm<T>(c.ta, c.tb, c.M, c.N, c.K, c.alpha, c.A.data(), c.lda, c.B.data(), c.ldb, c.beta, nested.data(),
                  c.ldc);
      });
    });
    INFO("op " << (s.ta ? 'T' : 'N') << (s.tb ? 'T' : 'N') << " M " << s.M << " N " << s.N << " K " << s.K);
    CHECK(bitwise_equal(one, two));
    CHECK(bitwise_equal(one, nested));
  }
}

TEST_CASE("gemm gives the same bits again after other products reused its buffers", "[gemm][threads]") {
  const Case<float> big(false, true, 200, 300, 700, 1.f, 0.f, 1000), small(true, false, 5, 7, 3, 1.f, 1.f, 1001);
  const std::vector<float> first = big.run(gemm<float>);
  small.run(gemm<float>);
  const Case<float> other(false, false, 500, 20, 900, 1.f, 0.f, 1002);
  other.run(gemm<float>);
  CHECK(bitwise_equal(first, big.run(gemm<float>)));
}

#ifdef INV_GEMM_ZMM
// The AVX-512 micro-kernel (two tiles side by side) against the 256-bit one, tile by
// tile: every row count, packed and strided A, float and double, K across the
// unrolled steps. gemm uses it wherever the CPU has AVX-512F.
TEMPLATE_TEST_CASE("the AVX-512 micro-kernel gives the 256-bit micro-kernel's bits", "[gemm][zmm]", float, double) {
  using namespace inv::kernels::detail;
  using T = TestType;
  using V = typename GemmBlocking<T>::V;
  constexpr int64_t MR = GemmBlocking<T>::MR, NR = GemmBlocking<T>::NR;
  if (!cpu_has_avx512f()) {
    WARN("no AVX-512F on this CPU: the 256-bit micro-kernel runs");
    return;
  }
  for (int64_t kc : {1, 7, 256}) {
    inv::Generator g{uint64_t(kc)};
    std::vector<T> a(size_t(kc * MR * 3)), b(size_t(kc * NR * 3));
    for (T& x : a) x = static_cast<T>(2.0 * g.uniform() - 1.0);
    for (T& x : b) x = static_cast<T>(2.0 * g.uniform() - 1.0);
    const T* b0 = b.data();
    const T* b1 = b.data() + kc * NR;
    auto same = [&](auto rows, auto packed) {
      constexpr int64_t R = decltype(rows)::value;
      constexpr bool P = decltype(packed)::value;
      // Strided A: rows 3·kc apart, k 1 apart (micro_kernel ignores a_r, a_k when packed).
      const int64_t a_r = P ? 1 : 3 * kc, a_k = P ? MR : 1;
      V ref0[MR][2] = {}, ref1[MR][2] = {}, fast0[MR][2] = {}, fast1[MR][2] = {};
      micro_kernel<T, P, R>(kc, a.data(), a_r, a_k, b0, NR, ref0);
      micro_kernel<T, P, R>(kc, a.data(), a_r, a_k, b1, 2 * NR, ref1);  // b1 strided like a row of B
      micro_kernel_zmm<T, P, R>(kc, a.data(), a_r, a_k, b0, NR, b1, 2 * NR, fast0, fast1);
      return std::memcmp(ref0, fast0, R * sizeof(ref0[0])) == 0 && std::memcmp(ref1, fast1, R * sizeof(ref1[0])) == 0;
    };
    using std::integral_constant;
    CHECK(same(integral_constant<int64_t, 1>(), std::true_type()));
    CHECK(same(integral_constant<int64_t, 2>(), std::true_type()));
    CHECK(same(integral_constant<int64_t, 3>(), std::true_type()));
    CHECK(same(integral_constant<int64_t, 4>(), std::true_type()));
    CHECK(same(integral_constant<int64_t, 5>(), std::true_type()));
    CHECK(same(integral_constant<int64_t, 6>(), std::true_type()));
    CHECK(same(integral_constant<int64_t, 6>(), std::false_type()));
  }
}
#endif
