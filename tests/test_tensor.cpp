// Tensor basics: factories, shapes, views, element access, printing, comparison, RNG.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <algorithm>
#include <limits>
#include <sstream>

#include <inv/inv.hpp>

using namespace inv;

TEST_CASE("factories fill shapes and values", "[tensor]") {
  const Tensor z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.dtype() == kFloat32);
  CHECK(z.to_vector<double>() == std::vector<double>(6, 0.0));
  CHECK(ones({4}, kFloat64).to_vector<double>() == std::vector<double>(4, 1.0));
  CHECK(full({2}, 2.5).to_vector<double>() == std::vector<double>{2.5, 2.5});
  CHECK(arange(4).to_vector<double>() == std::vector<double>{0, 1, 2, 3});
  CHECK(arange(1.0, 2.0, 0.25).to_vector<double>() == std::vector<double>{1.0, 1.25, 1.5, 1.75});
  const Tensor t = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.at<float>({1, 2}) == 6.0f);
  CHECK(t.at<float>({0, 1}) == 2.0f);
  CHECK(scalar_tensor(3.0).dim() == 0);
  CHECK(scalar_tensor(3.0).item() == 3.0);
}

TEST_CASE("bad factory arguments and accesses throw inv::Error", "[tensor]") {
  CHECK_THROWS_AS(from_vector(std::vector<float>{1, 2, 3}, {2, 2}), Error);
  CHECK_THROWS_WITH(from_vector(std::vector<float>{1, 2, 3}, {2, 2}),
                    Catch::Contains("(2,2)") && Catch::Contains("got 3"));
  const Tensor t = zeros({2, 3});
  CHECK_THROWS_WITH(t.at<float>({2, 0}), Catch::Contains("index 2 out of range"));
  CHECK_THROWS_WITH(t.at<float>({0}), Catch::Contains("expected 2 indices"));
  CHECK_THROWS_WITH(t.data<double>(), Catch::Contains("float32"));
  CHECK_THROWS_WITH(t.item(), Catch::Contains("(2,3)"));
  CHECK_THROWS_AS(Tensor().shape(), Error);
  CHECK_THROWS_AS(empty({-1, 2}), Error);
  // Sizes in bytes past int64, also when a zero dimension makes the element count 0.
  const int64_t big = int64_t(1) << 62;
  CHECK_THROWS_WITH(empty({big, big, 0}), Catch::Contains("(4611686018427387904,4611686018427387904,0)"));
  CHECK_THROWS_WITH(empty({0, big, big}), Catch::Contains("too large"));
  CHECK_THROWS_WITH(empty({big}, kFloat64), Catch::Contains("too large"));
  // Representable, but not allocatable: inv::Error rather than std::bad_alloc.
  CHECK_THROWS_WITH(empty({int64_t(1) << 59}), Catch::Contains("cannot allocate"));
  CHECK(empty({int64_t(1) << 40, 0}).numel() == 0);
}

TEST_CASE("reshape, view and flatten share storage; other ops copy", "[tensor]") {
  Tensor x = arange(24).requires_grad_(false);
  Tensor y = reshape(x, {2, 3, 4});
  CHECK(y.shares_storage(x));
  CHECK(reshape(x, {4, -1}).shape() == Shape{4, 6});
  CHECK(flatten(y, 1).shape() == Shape{2, 12});
  CHECK(flatten(y, 1).shares_storage(x));
  CHECK(unsqueeze(y, 0).shape() == Shape{1, 2, 3, 4});
  CHECK(squeeze(unsqueeze(y, 3), 3).shape() == Shape{2, 3, 4});
  y.at<float>({1, 2, 3}) = 100;
  CHECK(x.at<float>({23}) == 100.0f);  // writing through the view changes the base
  CHECK_FALSE(permute(y, {2, 0, 1}).shares_storage(x));
  CHECK_THROWS_WITH(reshape(x, {5, 5}), Catch::Contains("(24)") && Catch::Contains("(5,5)"));
  CHECK_THROWS_AS(reshape(x, {-1, -1}), Error);
  CHECK_THROWS_WITH(squeeze(y, 0), Catch::Contains("expected 1"));
}

TEST_CASE("copy_, fill_, detach, equal and allclose", "[tensor]") {
  Tensor a = tensor({1, 2, 3});
  Tensor b = zeros({3}, kFloat64);
  b.copy_(a);
  CHECK(b.to_vector<double>() == std::vector<double>{1, 2, 3});
  CHECK_THROWS_AS(b.copy_(zeros({4})), Error);
  Tensor d = a.detach();
  CHECK(d.shares_storage(a));
  CHECK_FALSE(d.requires_grad());
  CHECK(equal(a, tensor({1, 2, 3})));
  CHECK_FALSE(equal(a, tensor({1, 2, 3.001})));
  CHECK(allclose(a, tensor({1, 2, 3.000001})));
  CHECK_FALSE(allclose(a, tensor({1, 2, 3.1})));
  CHECK_FALSE(allclose(tensor({std::nan("")}), tensor({std::nan("")})));
  CHECK_THROWS_WITH(allclose(a, zeros({2})), Catch::Contains("(3)") && Catch::Contains("(2)"));
  CHECK(max_abs_diff(a, tensor({1, 2.5, 3})) == 0.5);
  a.fill_(7);
  CHECK(a.to_vector<double>() == std::vector<double>{7, 7, 7});
}

TEST_CASE("printing looks like PyTorch and elides long dimensions", "[tensor]") {
  std::ostringstream os;
  os << tensor({1, 2, 3, 4}, {2, 2});
  CHECK(os.str() == "tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]], shape=(2,2))");
  std::ostringstream os2;
  os2 << arange(10, kFloat64);
  CHECK(os2.str() ==
        "tensor([0.0000, 1.0000, 2.0000, ..., 7.0000, 8.0000, 9.0000], shape=(10), dtype=float64)");
  std::ostringstream os3;
  os3 << Tensor();
  CHECK(os3.str() == "tensor(undefined)");
}

TEST_CASE("the generator is deterministic and has the right moments", "[tensor][random]") {
  Generator g1(42), g2(42), g3(43);
  const Tensor a = randn({1000}, g1, kFloat64), b = randn({1000}, g2, kFloat64), c = randn({1000}, g3, kFloat64);
  CHECK(equal(a, b));
  CHECK_FALSE(equal(a, c));
  // 100k normals: mean within 0.01, variance within 0.02 of N(0,1).
  Generator g(7);
  const auto v = randn({100000}, g, kFloat64).to_vector<double>();
  double m = 0, s2 = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  for (double x : v) s2 += (x - m) * (x - m);
  s2 /= double(v.size());
  CHECK(std::fabs(m) < 0.01);
  CHECK(std::fabs(s2 - 1) < 0.02);
  const auto u = rand({100000}, g, kFloat64).to_vector<double>();
  CHECK(*std::min_element(u.begin(), u.end()) >= 0.0);
  CHECK(*std::max_element(u.begin(), u.end()) < 1.0);
  // State round trip continues the same stream.
  const Generator::State st = g.state();
  const double next = g.normal();
  g.set_state(st);
  CHECK(g.normal() == next);
  // randint covers its range uniformly enough and rejects n <= 0.
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 3000; ++i) ++counts[static_cast<size_t>(g.randint(3))];
  for (int k : counts) CHECK(std::abs(k - 1000) < 100);
  CHECK_THROWS_AS(g.randint(0), Error);
}

TEST_CASE("shape helpers: broadcasting rules and messages", "[tensor]") {
  CHECK(broadcast_shapes({8, 1, 6, 1}, {7, 1, 5}) == Shape{8, 7, 6, 5});
  CHECK(broadcast_shapes({}, {3}) == Shape{3});
  CHECK_THROWS_WITH(broadcast_shapes({2, 3}, {3, 2}), Catch::Contains("(2,3)") && Catch::Contains("(3,2)"));
  CHECK(to_string(Shape{}) == "()");
  CHECK(wrap_dim(-1, 4, "t") == 3);
  CHECK_THROWS_AS(wrap_dim(4, 4, "t"), Error);
}

TEST_CASE("freed storage of 64 KiB and more is cached by size and reused, within the limit", "[tensor][allocator]") {
  const size_t limit = cache_limit_bytes();
  set_cache_limit_bytes(size_t(1) << 20);  // also empties the cache
  REQUIRE(cached_bytes() == 0);
  const void* first;
  {
    Tensor a = empty({256, 256});  // 256 KiB
    first = a.data<float>();
  }
  if (!detail::kCacheBlocks) {  // AddressSanitizer build: nothing is cached
    CHECK(cached_bytes() == 0);
    set_cache_limit_bytes(limit);
    return;
  }
  CHECK(cached_bytes() == size_t(256) << 10);
  {
    {
      Tensor dirty = empty({256, 256});
      dirty.fill_(7);
    }
    Tensor b = zeros({256, 256});  // the same size: the cached block, zero-filled as asked
    CHECK(b.data<float>() == first);
    CHECK(cached_bytes() == 0);
    const auto values = b.to_vector<double>();
    CHECK(std::all_of(values.begin(), values.end(), [](double v) { return v == 0; }));
    Tensor c = empty({128, 256});  // another size: a new block
    CHECK(c.data<float>() != first);
  }
  CHECK(cached_bytes() == (size_t(256) << 10) + (size_t(128) << 10));
  { Tensor small = empty({100}); }  // below 64 KiB: straight back to malloc
  CHECK(cached_bytes() == (size_t(384) << 10));
  {
    std::vector<Tensor> many;
    for (int i = 0; i < 6; ++i) many.push_back(empty({256, 256}));
  }  // 6 x 256 KiB freed: only what fits under the 1 MiB limit is kept
  CHECK(cached_bytes() <= size_t(1) << 20);
  CHECK(cached_bytes() >= (size_t(768) << 10));
  empty_cache();
  CHECK(cached_bytes() == 0);
  set_cache_limit_bytes(0);
  { Tensor d = empty({256, 256}); }
  CHECK(cached_bytes() == 0);
  set_cache_limit_bytes(limit);
}

TEST_CASE("parallel_for_each covers every index once, split evenly, serially when nested or small", "[parallel]") {
  for (int threads : {1, 2, 3}) {
    const int saved = num_threads();
    set_num_threads(threads);
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(100000)}) {
      std::vector<int> hits(size_t(n), 0);
      std::vector<int64_t> sizes;
      std::mutex sizes_mutex;
      parallel_for_each(n, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) ++hits[size_t(i)];
        std::lock_guard<std::mutex> lock(sizes_mutex);
        sizes.push_back(e - b);
      });
      CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
      const int64_t parts = n * 1 >= kParallelMinWork ? std::min<int64_t>(n, threads) : 1;
      CHECK(int64_t(sizes.size()) == parts);
      CHECK(*std::max_element(sizes.begin(), sizes.end()) - *std::min_element(sizes.begin(), sizes.end()) <= 1);
    }
    std::atomic<int64_t> calls{0};
    std::atomic<bool> whole{true};
    parallel_for(4, 1, [&](int64_t, int64_t) {
      parallel_for_each(100000, 1, [&](int64_t b, int64_t e) {
        if (!(b == 0 && e == 100000)) whole = false;  // inside a loop: one call over the whole range
        ++calls;
      });
    });
    CHECK(whole);
    CHECK(calls == 4);
    set_num_threads(saved);
  }
}

TEST_CASE("the thread pool: each chunk once, exceptions rethrown, concurrent callers served", "[parallel]") {
  const int saved = num_threads();
  for (int threads : {2, 3, 8}) {
    set_num_threads(threads);
    // Every chunk runs once, many loops in a row (workers wake, sleep and wake again).
    for (int round = 0; round < 200; ++round) {
      std::vector<std::atomic<int>> hits(97);
      parallel_for(97, 3, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
      });
      bool once = true;
      for (auto& h : hits) once = once && h.load() == 1;
      REQUIRE(once);
    }
    // An exception in a chunk: every chunk still runs, then the first one is rethrown.
    std::atomic<int> ran{0};
    CHECK_THROWS_WITH(parallel_for(16, 1,
                                   [&](int64_t b, int64_t) {
                                     ++ran;
                                     if (b == 5) throw Error("chunk 5 failed");
                                   }),
                      Catch::Contains("chunk 5 failed"));
    CHECK(ran == 16);
    CHECK_FALSE(in_parallel_region());
    // Several threads of the caller's own at once: each loop is whole and correct
    // (one holds the pool, the others run their chunks themselves).
    std::vector<int64_t> sums(6, 0);
    std::vector<std::thread> callers;
    for (int k = 0; k < 6; ++k)
      callers.emplace_back([&, k] {
        for (int round = 0; round < 50; ++round) {
          std::vector<int64_t> part(size_t(chunk_count(1000, 7)), 0);
          parallel_for(1000, 7, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) part[size_t(b / 7)] += i * (k + 1);
          });
          int64_t s = 0;
          for (int64_t p : part) s += p;
          if (round == 0 || sums[size_t(k)] == s) sums[size_t(k)] = s;
          else sums[size_t(k)] = -1;
        }
      });
    for (auto& t : callers) t.join();
    for (int k = 0; k < 6; ++k) CHECK(sums[size_t(k)] == int64_t(499500) * (k + 1));
  }
  set_num_threads(saved);
}

namespace {
// Whether every thread of a parallel region flushes subnormals, by arithmetic: each
// thread multiplies the smallest normal float by 0.5 (a subnormal result).
bool every_thread_flushes(bool expected) {
  const int64_t n = 64;
  std::vector<float> out(n, -1);
  volatile float smallest = std::numeric_limits<float>::min();
  parallel_for(n, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[size_t(i)] = smallest * 0.5f;
  });
  bool all = true;
  for (float v : out) all = all && ((v == 0.0f) == expected);
  // Every chunk's thread is in the caller's mode (the pool's workers take it per loop).
  std::atomic<bool> modes{true};
  parallel_for(n, 1, [&](int64_t, int64_t) {
    if (flush_denormal() != expected) modes = false;
  });
  return all && modes;
}
}  // namespace

TEST_CASE("set_flush_denormal turns subnormal results and operands into zero on every thread", "[tensor][denormal]") {
  if (!set_flush_denormal(false)) {
    WARN("no MXCSR on this CPU: set_flush_denormal does nothing");
    return;
  }
  volatile float tiny = 1e-39f;  // subnormal: below 1.18e-38
  CHECK(tiny * 1.0f != 0.0f);
  CHECK(every_thread_flushes(false));
  REQUIRE(set_flush_denormal(true));
  CHECK(flush_denormal());
  CHECK(tiny * 1.0f == 0.0f);           // DAZ: the operand reads as zero
  CHECK(every_thread_flushes(true));    // FTZ: the result becomes zero, on the pool's threads too
  volatile double tiny_d = 1e-310;      // doubles as well
  CHECK(tiny_d * 1.0 == 0.0);
  const Tensor t = full({4}, 1e-39) * 3.0;  // a tensor op: zero instead of 3e-39
  CHECK(t.to_vector<double>() == std::vector<double>(4, 0.0));
  set_flush_denormal(false);
  CHECK_FALSE(flush_denormal());
  CHECK(tiny * 1.0f != 0.0f);
}

TEST_CASE("FlushDenormalGuard restores the previous mode, also through an exception", "[tensor][denormal]") {
  if (!set_flush_denormal(false)) return;
  {
    FlushDenormalGuard on;
    CHECK(every_thread_flushes(true));
    {
      FlushDenormalGuard off(false);
      CHECK(every_thread_flushes(false));
    }
    CHECK(every_thread_flushes(true));
  }
  CHECK(every_thread_flushes(false));
  try {
    FlushDenormalGuard on;
    throw Error("boom");
  } catch (const Error&) {
  }
  CHECK(every_thread_flushes(false));
}
