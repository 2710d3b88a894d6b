// inv/kernels/simd.hpp: a vector of float or double lanes, for loops the compiler does
// not vectorise by itself.
//
// The compiler leaves a loop scalar when it calls std::sqrt (which may set errno) or
// branches per element. Such a loop is written once as a template over its lane type X:
// X = T runs one element, X = vec_t<T> runs kLanes<T> elements with the same
// operations in the same order (GCC/Clang vector extensions; sqrt is the IEEE,
// correctly rounded instruction, as std::sqrt). for_lanes drives the two.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

/// INV_SIMD(n): vectorise the next loop with n lanes (OpenMP's `omp simd simdlen(n)`),
/// for short loops the compiler's cost model leaves scalar. Nothing without OpenMP.
#define INV_PRAGMA(x) _Pragma(#x)
#if defined(_OPENMP)
#define INV_SIMD(n) INV_PRAGMA(omp simd simdlen(n))
#else
#define INV_SIMD(n)
#endif

/// INV_HAS_SHUFFLEVECTOR: the compiler has __builtin_shufflevector (Clang, GCC 12 and later),
/// used for in-register transposes and interleaves.
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define INV_HAS_SHUFFLEVECTOR 1
#endif

namespace inv::kernels {

#if defined(__AVX__)
inline constexpr int kVecBytes = 32;
#else
inline constexpr int kVecBytes = 16;
#endif

template <class T>
struct Vec {
  typedef T type __attribute__((vector_size(kVecBytes)));
};
/// kLanes<T> lanes of T.
template <class T>
using vec_t = typename Vec<T>::type;
template <class T>
inline constexpr int64_t kLanes = kVecBytes / static_cast<int64_t>(sizeof(T));

template <class T>
vec_t<T> load(const T* p) {
  vec_t<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
void store(T* p, const vec_t<T>& v) {
  std::memcpy(p, &v, sizeof v);
}

/// Square root of a lane or of every lane, correctly rounded.
inline float sqrt_lanes(float x) { return std::sqrt(x); }
inline double sqrt_lanes(double x) { return std::sqrt(x); }
inline vec_t<float> sqrt_lanes(vec_t<float> x) {
#if defined(__AVX__)
  return _mm256_sqrt_ps(x);
#elif defined(__SSE2__)
  return _mm_sqrt_ps(x);
#else
  for (int64_t k = 0; k < kLanes<float>; ++k) x[k] = std::sqrt(x[k]);
  return x;
#endif
}
inline vec_t<double> sqrt_lanes(vec_t<double> x) {
#if defined(__AVX__)
  return _mm256_sqrt_pd(x);
#elif defined(__SSE2__)
  return _mm_sqrt_pd(x);
#else
  for (int64_t k = 0; k < kLanes<double>; ++k) x[k] = std::sqrt(x[k]);
  return x;
#endif
}

/// a·b + c for one lane or every lane. Where the target has FMA this is one fused
/// multiply-add, rounded once, written out so that every copy of a formula rounds alike
/// (a compiler contracting a·b + c by itself may fuse in one inlined copy and not in
/// another); without FMA, a·b is rounded before the sum, and nothing can fuse them.
inline float fmadd_lanes(float a, float b, float c) {
#if defined(__FMA__)
  return __builtin_fmaf(a, b, c);
#else
  return a * b + c;
#endif
}
inline double fmadd_lanes(double a, double b, double c) {
#if defined(__FMA__)
  return __builtin_fma(a, b, c);
#else
  return a * b + c;
#endif
}
inline vec_t<float> fmadd_lanes(vec_t<float> a, vec_t<float> b, vec_t<float> c) {
#if defined(__FMA__) && defined(__AVX__)
  return _mm256_fmadd_ps(a, b, c);
#else
  return a * b + c;
#endif
}
inline vec_t<double> fmadd_lanes(vec_t<double> a, vec_t<double> b, vec_t<double> c) {
#if defined(__FMA__) && defined(__AVX__)
  return _mm256_fmadd_pd(a, b, c);
#else
  return a * b + c;
#endif
}

/// Calls f(X{}, i) for i in [begin, end): f(vec_t<T>{}, i) covers elements i .. i+kLanes-1,
/// f(T{}, i) the remaining ones. f loads and stores its own lanes at i.
template <class T, class F>
void for_lanes(int64_t begin, int64_t end, F&& f) {
  int64_t i = begin;
  for (; i + kLanes<T> <= end; i += kLanes<T>) f(vec_t<T>{}, i);
  for (; i < end; ++i) f(T{}, i);
}

/// Loads lanes X (T or vec_t<T>) at p.
template <class X, class T>
X load_as(const T* p) {
  if constexpr (std::is_same_v<X, T>)
    return *p;
  else
    return load(p);
}
template <class X, class T>
void store_as(T* p, const X& x) {
  if constexpr (std::is_same_v<X, T>)
    *p = x;
  else
    store(p, x);
}

}  // namespace inv::kernels
