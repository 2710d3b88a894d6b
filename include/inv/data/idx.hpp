// inv/data/idx.hpp: the IDX format of MNIST and Fashion-MNIST.
//
// An IDX file (LeCun et al., http://yann.lecun.com/exdb/mnist/) is a big-endian
// header followed by the data:
//   magic   4 bytes: 0x00, 0x00, data type (0x08 = unsigned byte), rank
//   dims    rank x uint32, big-endian
//   data    prod(dims) elements, row-major
// Images are magic 0x00000803 with dims (N, H, W); labels are 0x00000801 with dims (N).
// The files are read raw or gzip-compressed (detected by the gzip magic), as the
// downloads (train-images-idx3-ubyte.gz, ...) come. Every size is validated against
// the header: a truncated or over-long file throws, it is never read out of bounds.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "inv/data/dataset.hpp"
#include "inv/error.hpp"
#include "inv/io/file.hpp"
#include "inv/io/gzip.hpp"
#include "inv/parallel.hpp"
#include "inv/tensor.hpp"

namespace inv::data {

/// MNIST class names: "0" .. "9".
inline std::vector<std::string> mnist_classes() { return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}; }

/// Fashion-MNIST class names (Xiao, Rasul & Vollgraf 2017), label order.
inline std::vector<std::string> fashion_mnist_classes() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}

namespace data_detail {

/// Validates the header of an unsigned-byte IDX file of the given rank and its total
/// size; returns the dims. The data starts at byte 4 + 4·rank. Errors name `what`.
inline std::vector<int64_t> parse_idx_header(const std::vector<uint8_t>& b, int rank, const std::string& what) {
  const char* kind = rank == 3 ? "images" : rank == 1 ? "labels" : "data";
  const uint32_t want = 0x0800u | uint32_t(rank);
  INV_CHECK(b.size() >= 4, what, ": truncated IDX file of ", b.size(), " bytes, the magic number alone needs 4");
  const uint32_t magic = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
  INV_CHECK(b[0] == 0 && b[1] == 0, what, ": not an IDX file: expected magic ", inv::detail::to_hex(want, 8), " (",
            kind, "), found ", inv::detail::to_hex(magic, 8));
  INV_CHECK(b[2] == 0x08, what, ": unsupported IDX data type ", inv::detail::to_hex(b[2], 2), " (magic ",
            inv::detail::to_hex(magic, 8), "); only 0x08, unsigned byte, is supported");
  INV_CHECK(b[3] == rank, what, ": expected IDX ", kind, " of rank ", rank, " (magic ", inv::detail::to_hex(want, 8),
            "), found rank ", int(b[3]), " (magic ", inv::detail::to_hex(magic, 8), ")");
  const size_t header = 4 + 4 * size_t(rank);
  INV_CHECK(b.size() >= header, what, ": truncated IDX header: rank ", rank, " needs ", header, " bytes, found ",
            b.size());
  std::vector<int64_t> dims(static_cast<size_t>(rank));
  uint64_t count = 1;
  bool overflow = false;  // prod(dims) >= 2^64: certainly more than the file holds
  const uint64_t available = b.size() - header;
  for (int d = 0; d < rank; ++d) {
    const uint8_t* p = b.data() + 4 + 4 * d;
    const uint32_t v = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
    dims[size_t(d)] = v;
    INV_CHECK(d == 0 || v > 0, what, ": IDX dimension ", d, " is 0");
    if (v != 0 && count > UINT64_MAX / v)
      overflow = true;
    else
      count *= v;
  }
  INV_CHECK(!overflow && count <= available, what, ": truncated IDX ", kind, ": dims ", to_string(dims), " need ",
            overflow ? std::string("more than 2^64") : std::to_string(count), " data bytes after the ", header,
            "-byte header, found ", available);
  INV_CHECK(count == available, what, ": IDX ", kind, " has ", available - count, " unexpected trailing bytes: dims ",
            to_string(dims), " need ", count, " data bytes after the ", header, "-byte header, found ", available);
  return dims;
}

}  // namespace data_detail

namespace data_detail {

/// The IDX bytes of a file's contents: `file_bytes` inflated when they start with the
/// gzip magic (into `inflated`), else `file_bytes` themselves.
inline const std::vector<uint8_t>& idx_payload(const std::vector<uint8_t>& file_bytes, const std::string& what,
                                               std::vector<uint8_t>& inflated) {
  if (!io::is_gzip(file_bytes)) return file_bytes;
  inflated = io::gunzip(file_bytes, what);
  return inflated;
}

}  // namespace data_detail

/// Images from the bytes of an IDX file (magic 0x00000803, dims (N, H, W), raw or gzip) as a
/// (N, 1, H, W) float32 tensor with pixel values byte / 255 in [0, 1] (as torchvision's
/// ToTensor); `what` names the source in errors. Throws inv::Error naming `what` when the
/// bytes are not gzip-valid (see io::gunzip), have the wrong magic, data type or rank, or
/// their size does not match the header (truncated or trailing bytes).
inline Tensor parse_idx_images(const std::vector<uint8_t>& file_bytes, const std::string& what) {
  std::vector<uint8_t> inflated;
  const std::vector<uint8_t>& bytes = data_detail::idx_payload(file_bytes, what, inflated);
  const std::vector<int64_t> dims = data_detail::parse_idx_header(bytes, 3, what);
  Tensor images = empty({dims[0], 1, dims[1], dims[2]});
  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>(v) / 255.0f;
  const uint8_t* src = bytes.data() + 16;
  float* dst = images.data<float>();
  parallel_for(images.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] = lut[src[i]];
  });
  return images;
}

/// Labels from the bytes of an IDX file (magic 0x00000801, dims (N), raw or gzip), each
/// checked to be in [0, num_classes). Throws inv::Error naming `what` as parse_idx_images
/// does, and naming the first label out of range.
inline std::vector<int64_t> parse_idx_labels(const std::vector<uint8_t>& file_bytes, const std::string& what,
                                             int64_t num_classes = 10) {
  INV_CHECK(num_classes > 0, "parse_idx_labels: num_classes must be positive, got ", num_classes);
  std::vector<uint8_t> inflated;
  const std::vector<uint8_t>& bytes = data_detail::idx_payload(file_bytes, what, inflated);
  data_detail::parse_idx_header(bytes, 1, what);
  std::vector<int64_t> labels(bytes.begin() + 8, bytes.end());
  for (size_t i = 0; i < labels.size(); ++i)
    INV_CHECK(labels[i] < num_classes, what, ": label ", labels[i], " at index ", i, " is outside [0, ", num_classes,
              ")");
  return labels;
}

/// Images from an IDX file (magic 0x00000803, dims (N, H, W), raw or gzip); see
/// parse_idx_images. Throws inv::Error naming the path when the file cannot be read or
/// is not a valid IDX images file.
inline Tensor load_idx_images(const std::string& path) { return parse_idx_images(io::read_file(path), path); }

/// Labels from an IDX file (magic 0x00000801, dims (N), raw or gzip), each checked to
/// be in [0, num_classes); see parse_idx_labels. Throws inv::Error naming the path as
/// load_idx_images does, and naming the first label out of range.
inline std::vector<int64_t> load_idx_labels(const std::string& path, int64_t num_classes = 10) {
  INV_CHECK(num_classes > 0, "load_idx_labels: num_classes must be positive, got ", num_classes);
  return parse_idx_labels(io::read_file(path), path, num_classes);
}

namespace data_detail {

/// `dir/name` if it exists, else `dir/name.gz`; throws naming both when neither does.
inline std::string find_raw_or_gz(const std::string& dir, const std::string& name) {
  const std::string raw = dir + "/" + name;
  if (io::file_exists(raw)) return raw;
  INV_CHECK(io::file_exists(raw + ".gz"), "no '", name, "' or '", name, ".gz' in '", dir, "'");
  return raw + ".gz";
}

}  // namespace data_detail

/// An MNIST-format dataset in `dir`: train-images-idx3-ubyte and train-labels-idx1-ubyte
/// (train = true) or t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each raw or with
/// a .gz suffix (the raw file wins when both exist). Images are (N, 1, H, W) in [0, 1];
/// labels are checked against class_names.size(). Throws inv::Error when a file is
/// missing or invalid, or when the numbers of images and labels differ.
inline Dataset load_mnist_like(const std::string& dir, bool train, std::vector<std::string> class_names) {
  INV_CHECK(!class_names.empty(), "load_mnist_like: class_names must not be empty");
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = data_detail::find_raw_or_gz(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = data_detail::find_raw_or_gz(dir, prefix + "-labels-idx1-ubyte");
  Dataset ds;
  ds.images = load_idx_images(images_path);
  ds.labels = load_idx_labels(labels_path, static_cast<int64_t>(class_names.size()));
  ds.classes = std::move(class_names);
  INV_CHECK(ds.images.size(0) == ds.size(), "load_mnist_like: '", images_path, "' has ", ds.images.size(0),
            " images but '", labels_path, "' has ", ds.size(), " labels");
  return ds;
}

/// MNIST (LeCun et al. 1998) from `dir`: 60000 training or 10000 test images, 28x28.
inline Dataset load_mnist(const std::string& dir, bool train) { return load_mnist_like(dir, train, mnist_classes()); }

/// Fashion-MNIST (Xiao et al. 2017) from `dir`, same layout and sizes as MNIST.
inline Dataset load_fashion_mnist(const std::string& dir, bool train) {
  return load_mnist_like(dir, train, fashion_mnist_classes());
}

// ---------------------------------------------------------------------------
// Writing (uncompressed), for tests and small generated datasets
// ---------------------------------------------------------------------------

/// The bytes of an unsigned-byte IDX file with the given dims (rank 1..255) and data.
/// Throws when a dim is negative or above 2^32 - 1, or data.size() != prod(dims).
inline std::vector<uint8_t> encode_idx(const std::vector<int64_t>& dims, const std::vector<uint8_t>& data) {
  INV_CHECK(!dims.empty() && dims.size() < 256, "encode_idx: rank must be 1..255, got ", dims.size());
  int64_t count = 1;
  for (int64_t d : dims) {
    INV_CHECK(d >= 0 && d <= int64_t(UINT32_MAX), "encode_idx: dimension ", d, " outside [0, 2^32)");
    count *= d;
  }
  INV_CHECK(int64_t(data.size()) == count, "encode_idx: dims ", to_string(dims), " need ", count, " bytes, got ",
            data.size());
  std::vector<uint8_t> out = {0, 0, 0x08, uint8_t(dims.size())};
  for (int64_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(uint64_t(d) >> shift));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

/// Writes (N, 1, H, W) or (N, H, W) images with values in [0, 1] as an IDX images file
/// (pixels round(255·x)), atomically. Throws when the shape is wrong or a value is
/// outside [0, 1] or not finite.
inline void write_idx_images(const std::string& path, const Tensor& images) {
  const Shape& s = images.shape();
  INV_CHECK((s.size() == 4 && s[1] == 1) || s.size() == 3, "write_idx_images: expected (N,1,H,W) or (N,H,W), got ",
            to_string(s));
  const std::vector<double> v = images.to_vector<double>();
  std::vector<uint8_t> pixels(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    INV_CHECK(v[i] >= 0.0 && v[i] <= 1.0, "write_idx_images: value ", v[i], " at flat index ", i, " is outside [0, 1]");
    pixels[i] = static_cast<uint8_t>(std::lround(v[i] * 255.0));
  }
  io::write_file_atomic(path, encode_idx({s[0], s[s.size() - 2], s[s.size() - 1]}, pixels));
}

/// Writes labels (each in [0, 255]) as an IDX labels file, atomically.
inline void write_idx_labels(const std::string& path, const std::vector<int64_t>& labels) {
  std::vector<uint8_t> bytes(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    INV_CHECK(labels[i] >= 0 && labels[i] <= 255, "write_idx_labels: label ", labels[i], " at index ", i,
              " is outside [0, 255]");
    bytes[i] = static_cast<uint8_t>(labels[i]);
  }
  io::write_file_atomic(path, encode_idx({static_cast<int64_t>(labels.size())}, bytes));
}

}  // namespace inv::data
