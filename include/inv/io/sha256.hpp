// inv/io/sha256.hpp: the SHA-256 digest (NIST FIPS 180-4, §6.2), to identify a file
// that inv did not write (an imported model's weights) by the hash people publish.
//
// The textbook algorithm: 512-bit blocks, the message padded with a 1 bit, zeros and its
// length in bits (big-endian, 64 bits), 64 rounds per block with the constants of §4.2.2
// and the initial hash of §5.3.3. Checked against the examples of NIST's "Cryptographic
// Algorithm Validation Program" (tests/test_sha256.cpp: "abc", the empty string, the
// two-block message, a million 'a's). Not hardened against timing attacks: it hashes
// public files, no secrets.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "inv/error.hpp"

namespace inv::io {

/// An incremental SHA-256: update() with the bytes in any pieces, then hex() or digest().
class Sha256 {
 public:
  /// Adds `size` bytes at `data` to the message.
  void update(const void* data, size_t size) {
    INV_CHECK(!finished_, "Sha256::update after the digest was taken");
    const auto* p = static_cast<const uint8_t*>(data);
    length_ += size;
    while (size > 0) {
      const size_t take = std::min(size, sizeof(block_) - filled_);
      std::memcpy(block_ + filled_, p, take);
      filled_ += take;
      p += take;
      size -= take;
      if (filled_ == sizeof(block_)) {
        compress(block_);
        filled_ = 0;
      }
    }
  }

  /// The 32-byte digest of the message (pads it; update() may not follow).
  const uint8_t* digest() {
    if (!finished_) {
      const uint64_t bits = length_ * 8;
      const uint8_t one = 0x80, zero = 0;
      update(&one, 1);
      while (filled_ != 56) update(&zero, 1);
      uint8_t len[8];
      for (int i = 0; i < 8; ++i) len[i] = uint8_t(bits >> (56 - 8 * i));
      update(len, 8);  // completes the last block
      for (int i = 0; i < 8; ++i)
        for (int b = 0; b < 4; ++b) out_[4 * i + b] = uint8_t(h_[i] >> (24 - 8 * b));
      finished_ = true;
    }
    return out_;
  }

  /// The digest as 64 lowercase hexadecimal digits (as sha256sum prints it).
  std::string hex() {
    static const char* digits = "0123456789abcdef";
    const uint8_t* d = digest();
    std::string s(64, '0');
    for (int i = 0; i < 32; ++i) {
      s[2 * i] = digits[d[i] >> 4];
      s[2 * i + 1] = digits[d[i] & 15];
    }
    return s;
  }

 private:
  static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  // §6.2.2: one 64-byte block into the hash state.
  void compress(const uint8_t* block) {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    uint32_t w[64];
    for (int t = 0; t < 16; ++t)
      w[t] = uint32_t(block[4 * t]) << 24 | uint32_t(block[4 * t + 1]) << 16 | uint32_t(block[4 * t + 2]) << 8 |
             uint32_t(block[4 * t + 3]);
    for (int t = 16; t < 64; ++t) {
      const uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int t = 0; t < 64; ++t) {
      const uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[t] + w[t];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g, h_[7] += h;
  }

  uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};  // §5.3.3
  uint8_t block_[64] = {};
  size_t filled_ = 0;
  uint64_t length_ = 0;  // bytes
  uint8_t out_[32] = {};
  bool finished_ = false;
};

/// SHA-256 of `size` bytes at `data`, as 64 lowercase hexadecimal digits.
inline std::string sha256_hex(const void* data, size_t size) {
  Sha256 s;
  s.update(data, size);
  return s.hex();
}

/// SHA-256 of the file at `path`, as 64 lowercase hexadecimal digits (what `sha256sum`
/// prints), read in 1 MiB pieces. Throws inv::Error naming the path when it cannot be
/// opened or read.
inline std::string sha256_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) inv::detail::fail("cannot open '", path, "' to hash it: ", std::strerror(errno));
  Sha256 s;
  std::unique_ptr<uint8_t[]> buffer(new uint8_t[1 << 20]);
  for (;;) {
    const size_t got = std::fread(buffer.get(), 1, size_t(1) << 20, f.get());
    s.update(buffer.get(), got);
    if (got < (size_t(1) << 20)) {
      if (std::ferror(f.get())) inv::detail::fail("cannot read '", path, "' to hash it");
      break;
    }
  }
  return s.hex();
}

}  // namespace inv::io
