// inv/data/cifar.hpp: the CIFAR-10 binary format.
//
// A CIFAR-10 binary file (data_batch_1.bin ... test_batch.bin, Krizhevsky 2009)
// is a sequence of 3073-byte records: one label byte (0..9), then the 32x32 image
// as 1024 red, 1024 green and 1024 blue bytes, each plane row-major. That is
// exactly the (3, 32, 32) layout of one image tensor. The class names are in
// batches.meta.txt next to the batches, one a line.
#pragma once

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "inv/data/dataset.hpp"
#include "inv/error.hpp"
#include "inv/io/file.hpp"
#include "inv/parallel.hpp"
#include "inv/tensor.hpp"

namespace inv::data {

/// Bytes per CIFAR-10 record: 1 label + 3·32·32 pixels.
constexpr int64_t kCifarRecordBytes = 3073;

/// The CIFAR-10 class names, label order.
inline std::vector<std::string> cifar10_classes() {
  return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
}

namespace data_detail {

inline std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

/// Size of the file at `path` in bytes; throws naming the path when it cannot be read.
inline int64_t file_size(const std::string& path) {
  struct stat st {};
  INV_CHECK(::stat(path.c_str(), &st) == 0, "cannot open '", path, "': ", std::strerror(errno));
  INV_CHECK(!S_ISDIR(st.st_mode), "'", path, "' is a directory, expected a file");
  INV_CHECK(S_ISREG(st.st_mode), "'", path, "' is ", io::file_type_name(st.st_mode), ", expected a regular file");
  return static_cast<int64_t>(st.st_size);
}

/// The non-empty lines of a text file, trailing whitespace (and '\r') removed.
inline std::vector<std::string> read_nonempty_lines(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  std::vector<std::string> lines;
  std::string line;
  auto flush = [&] {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) lines.push_back(line);
    line.clear();
  };
  for (uint8_t c : bytes) {
    if (c == '\n')
      flush();
    else
      line.push_back(static_cast<char>(c));
  }
  flush();
  return lines;
}

/// Checks the size of one CIFAR-10 file's contents, `size` bytes (named `what` in errors):
/// not empty and a multiple of kCifarRecordBytes. Returns the number of records.
inline int64_t cifar_record_count(int64_t size, const std::string& what) {
  INV_CHECK(size > 0, what, ": empty CIFAR-10 file (expected records of ", kCifarRecordBytes, " bytes)");
  INV_CHECK(size % kCifarRecordBytes == 0, what, ": size ", size, " is not a multiple of the CIFAR-10 record size ",
            kCifarRecordBytes, ": ", size / kCifarRecordBytes, " whole records and ", size % kCifarRecordBytes,
            " trailing bytes (truncated or not a CIFAR-10 binary file?)");
  return size / kCifarRecordBytes;
}

/// Decodes `n` records from `src` into the labels `labels[0 .. n)` and the images at
/// `images` (n·3072 floats, byte / 255). Throws inv::Error naming `what`, the record and
/// its byte offset when a label is not below num_classes.
inline void decode_cifar_records(const uint8_t* src, int64_t n, int64_t num_classes, const std::string& what,
                                 int64_t* labels, float* images) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = src[i * kCifarRecordBytes];
    INV_CHECK(y < num_classes, what, ": label ", y, " of record ", i, " (byte offset ", i * kCifarRecordBytes,
              ") is outside [0, ", num_classes, ")");
    labels[i] = y;
  }
  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>(v) / 255.0f;
  parallel_for(n, 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t p = 0; p < 3072; ++p) images[i * 3072 + p] = lut[src[i * kCifarRecordBytes + 1 + p]];
  });
}

}  // namespace data_detail

/// CIFAR-10 from the bytes of one binary batch file (3073-byte records, see the header);
/// `what` names the source in errors. Images are (N, 3, 32, 32) float32 with values
/// byte / 255 in [0, 1]; the classes are `class_names` (cifar10_classes() when empty).
/// Throws inv::Error naming `what` when the bytes are empty, their size is not a multiple
/// of 3073 (saying how many bytes are left over), or a label is not below the number of
/// classes.
inline Dataset parse_cifar10_binary(const std::vector<uint8_t>& bytes, const std::string& what,
                                    std::vector<std::string> class_names = {}) {
  const int64_t n = data_detail::cifar_record_count(static_cast<int64_t>(bytes.size()), what);
  Dataset ds;
  ds.classes = class_names.empty() ? cifar10_classes() : std::move(class_names);
  ds.images = empty({n, 3, 32, 32});
  ds.labels.resize(static_cast<size_t>(n));
  data_detail::decode_cifar_records(bytes.data(), n, ds.num_classes(), what, ds.labels.data(),
                                    ds.images.data<float>());
  return ds;
}

/// CIFAR-10 from one or more binary batch files (3073-byte records, see the header),
/// concatenated in the order given. Images are (N, 3, 32, 32) float32 with values
/// byte / 255 in [0, 1]. Class names: `class_names` when given; otherwise the lines of
/// batches.meta.txt in the first file's directory when that file exists; otherwise
/// cifar10_classes(). Throws inv::Error naming the file when it cannot be read, is
/// empty, its size is not a multiple of 3073 (saying how many bytes are left over), or
/// a label is not below the number of classes (see parse_cifar10_binary); also when no
/// file is given.
inline Dataset load_cifar10_binary(const std::vector<std::string>& files, std::vector<std::string> class_names = {}) {
  INV_CHECK(!files.empty(), "load_cifar10_binary: no files given");
  if (class_names.empty()) {
    const std::string meta = data_detail::parent_dir(files.front()) + "/batches.meta.txt";
    class_names = io::file_exists(meta) ? data_detail::read_nonempty_lines(meta) : cifar10_classes();
    INV_CHECK(!class_names.empty(), meta, ": no class names (expected one a line)");
  }
  // Sizes first, so that the images of all files go into one tensor allocated once.
  int64_t total = 0;
  for (const std::string& f : files) total += data_detail::cifar_record_count(data_detail::file_size(f), f);
  Dataset ds;
  ds.images = empty({total, 3, 32, 32});
  ds.labels.resize(static_cast<size_t>(total));
  ds.classes = std::move(class_names);
  int64_t first = 0;  // index of the first record of the current file
  for (const std::string& f : files) {
    const std::vector<uint8_t> bytes = io::read_file(f);
    const int64_t n = static_cast<int64_t>(bytes.size()) / kCifarRecordBytes;
    INV_CHECK(bytes.size() % kCifarRecordBytes == 0 && first + n <= total, f, ": changed size while being read");
    data_detail::decode_cifar_records(bytes.data(), n, ds.num_classes(), f, ds.labels.data() + first,
                                      ds.images.data<float>() + first * 3072);
    first += n;
  }
  INV_CHECK(first == total, "load_cifar10_binary: files changed size while being read");
  return ds;
}

/// Writes a dataset of (N, 3, 32, 32) images in [0, 1] (pixels round(255·x)) with
/// labels in [0, 255] as one CIFAR-10 binary file, atomically. Throws when the shape,
/// a value or a label is out of range.
inline void write_cifar10_binary(const std::string& path, const Dataset& ds) {
  INV_CHECK(ds.images.defined() && ds.images.shape() == Shape({ds.size(), 3, 32, 32}),
            "write_cifar10_binary: expected images of shape (", ds.size(), ",3,32,32), got ",
            ds.images.defined() ? to_string(ds.images.shape()) : std::string("undefined"));
  const std::vector<double> v = ds.images.to_vector<double>();
  std::vector<uint8_t> bytes(static_cast<size_t>(ds.size() * kCifarRecordBytes));
  for (int64_t i = 0; i < ds.size(); ++i) {
    const int64_t y = ds.labels[static_cast<size_t>(i)];
    INV_CHECK(y >= 0 && y <= 255, "write_cifar10_binary: label ", y, " of image ", i, " is outside [0, 255]");
    bytes[static_cast<size_t>(i * kCifarRecordBytes)] = static_cast<uint8_t>(y);
    for (int64_t p = 0; p < 3072; ++p) {
      const double x = v[static_cast<size_t>(i * 3072 + p)];
      INV_CHECK(x >= 0.0 && x <= 1.0, "write_cifar10_binary: value ", x, " of image ", i, " is outside [0, 1]");
      bytes[static_cast<size_t>(i * kCifarRecordBytes + 1 + p)] = static_cast<uint8_t>(std::lround(x * 255.0));
    }
  }
  io::write_file_atomic(path, bytes);
}

}  // namespace inv::data
