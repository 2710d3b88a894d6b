// SHA-256 (inv/io/sha256.hpp) against NIST's examples (FIPS 180-4 / CAVP "SHA256ShortMsg"
// and the one-million-'a' long message), messages at every padding boundary (digests
// from Python's hashlib), and a committed fixture file (digest from coreutils sha256sum).
#include "temp_dir.hpp"
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <inv/io/file.hpp>
#include <inv/io/sha256.hpp>

using namespace inv::io;

namespace {
std::string hash(const std::string& s) { return sha256_hex(s.data(), s.size()); }
}  // namespace

TEST_CASE("SHA-256 gives NIST's example digests", "[sha256]") {
  CHECK(hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(hash(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-256 pads correctly at every block boundary, fed whole or byte by byte", "[sha256]") {
  // bytes (7 i + 3) mod 256; 55 is the longest message that pads into one block, 56 the
  // shortest that needs two.
  const std::vector<std::pair<size_t, std::string>> expected = {
      {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
      {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
      {57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73"},
      {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
      {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
      {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
      {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
      {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
      {128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"},
  };
  for (const auto& [n, digest] : expected) {
    std::vector<uint8_t> m(n);
    for (size_t i = 0; i < n; ++i) m[i] = uint8_t((7 * i + 3) % 256);
    INFO("length " << n);
    CHECK(sha256_hex(m.data(), m.size()) == digest);
    Sha256 pieces;
    for (uint8_t b : m) pieces.update(&b, 1);
    CHECK(pieces.hex() == digest);
    CHECK(pieces.hex() == digest);  // taking the digest twice gives it twice
  }
}

TEST_CASE("sha256_file hashes a file as sha256sum does, and names a missing one", "[sha256]") {
  CHECK(sha256_file(std::string(INV_FIXTURES_DIR) + "/resnet20_torch.safetensors") ==
        "4184c52ffa7f53458d4f2a2b365571cae6e43b43dd8f00de84d3ac2f981bae65");
  inv::testing::TempDir dir;
  const std::string big = dir.file("big.bin");
  std::string bytes(3 * (1 << 20) + 17, 'a');  // pieces of 1 MiB and a remainder
  write_file_atomic(big, bytes);
  CHECK(sha256_file(big) == hash(bytes));
  CHECK_THROWS_WITH(sha256_file(dir.file("missing.bin")), Catch::Contains("missing.bin"));
  CHECK_THROWS_WITH(sha256_file(dir.path.string()), Catch::Contains("cannot read"));
}
