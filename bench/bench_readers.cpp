// bench_readers: how fast the dataset readers are, and what they read.
//
//   bench_readers [--npy DIR] [--repeat N] KIND=PATH ...
//
// KIND is idx-images (an IDX image file, .gz or raw), cifar (a CIFAR-10 binary batch),
// folder1 / folder3 (an image folder, root/<class>/<image>, read as grey or RGB).
// For each source it prints one line: the tensor's shape, the CRC-32 of its float32 bytes
// (equal CRCs = bitwise-equal tensors, the check that a reader change kept the data),
// and the median wall time of N reads (default 3) in ms and per image in µs.
// With --npy DIR it also writes each tensor to DIR/<KIND>-<k>.npy, for comparing pixels
// with other decoders (e.g. Pillow).
#include <cstdio>
#include <cstdlib>
#include <inv/data/cifar.hpp>
#include <inv/data/idx.hpp>
#include <inv/data/image_folder.hpp>
#include <inv/io/crc32.hpp>
#include <inv/io/npy.hpp>
#include <string>
#include <vector>

#include "bench_util.hpp"

using namespace inv;

int main(int argc, char** argv) {
  std::string npy_dir;
  int repeat = 3;
  std::vector<std::string> sources;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--npy" && i + 1 < argc) {
      npy_dir = argv[++i];
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::atoi(argv[++i]);
    } else {
      sources.push_back(a);
    }
  }
  if (sources.empty()) {
    std::fprintf(stderr, "usage: bench_readers [--npy DIR] [--repeat N] KIND=PATH ...\n");
    return 2;
  }
  try {
    for (size_t k = 0; k < sources.size(); ++k) {
      const size_t eq = sources[k].find('=');
      const std::string kind = sources[k].substr(0, eq), path = eq == std::string::npos ? "" : sources[k].substr(eq + 1);
      Tensor t;
      auto read = [&] {
        if (kind == "idx-images") {
          t = data::load_idx_images(path);
        } else if (kind == "cifar") {
          t = data::load_cifar10_binary({path}).images;
        } else if (kind == "folder1" || kind == "folder3") {
          t = data::load_image_folder(path, kind == "folder1" ? 1 : 3).images;
        } else {
          std::fprintf(stderr, "unknown kind '%s'\n", kind.c_str());
          std::exit(2);
        }
      };
      const double ms = bench::median_ms(read, 0, repeat, 0);
      const uint32_t crc = io::crc32(reinterpret_cast<const uint8_t*>(t.data<float>()), sizeof(float) * t.numel());
      std::printf("%-11s %-40s shape %-18s crc32 %08x  %9.1f ms  %7.2f us/image\n", kind.c_str(), path.c_str(),
                  to_string(t.shape()).c_str(), crc, ms, 1000.0 * ms / static_cast<double>(t.size(0)));
      if (!npy_dir.empty()) io::save_npy(npy_dir + "/" + kind + "-" + std::to_string(k) + ".npy", t);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_readers: %s\n", e.what());
    return 1;
  }
  return 0;
}
