// inv/data/image_folder.hpp: a dataset stored as one folder of images per class.
//
//   root/cat/0001.png
//   root/cat/0002.jpg
//   root/dog/a.jpeg
//
// As torchvision's ImageFolder: the classes are the subfolders of root sorted by
// name (label k = k-th name), the images of a class are its files sorted by name, and
// the image files are those with torchvision's extensions (.jpg .jpeg .png .ppm .bmp
// .pgm .tif .tiff .webp, any case). Differences: only files directly inside a class
// folder are read (no recursion), names starting with '.' are skipped, and only PNG and
// JPEG are decoded (inv/io/image_decode.hpp, with libpng and libjpeg-turbo): a file of
// another format is an error that names it, never a file silently skipped. All images
// must have the same size. Needs libpng and libjpeg (CMake target inv::image).
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "inv/data/dataset.hpp"
#include "inv/error.hpp"
#include "inv/io/file.hpp"
#include "inv/io/image_decode.hpp"
#include "inv/tensor.hpp"

namespace inv::data {

namespace data_detail {

inline bool is_image_file_name(const std::string& name) {
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot);
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* known : {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"})
    if (ext == known) return true;
  return false;
}

/// Names of the entries of `dir` that are directories (want_dirs) or image files,
/// skipping names that start with '.', sorted by name (byte order).
inline std::vector<std::string> list_sorted(const std::string& dir, bool want_dirs) {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code type_ec;
    if (want_dirs ? it->is_directory(type_ec) : (it->is_regular_file(type_ec) && is_image_file_name(name)))
      names.push_back(name);
  }
  INV_CHECK(!ec, "cannot list '", dir, "': ", ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace data_detail

/// The class names of root/<class>/<image>: its subfolders sorted by name (byte order),
/// skipping names that start with '.'; label k of load_image_folder is the k-th. Throws
/// inv::Error when root is not a directory or has no class folders.
inline std::vector<std::string> image_folder_classes(const std::string& root) {
  INV_CHECK(std::filesystem::is_directory(root), "load_image_folder: '", root, "' is not a directory");
  std::vector<std::string> classes = data_detail::list_sorted(root, true);
  INV_CHECK(!classes.empty(), "load_image_folder: no class folders in '", root,
            "' (expected one subfolder of images per class)");
  return classes;
}

/// Loads root/<class>/<image> (see the header) as a dataset of (N, channels, H, W)
/// float32 images with values byte / 255 in [0, 1], labels in class-folder order and the
/// folder names as classes. channels is 1 (grey) or 3 (RGB), converted as io::decode_image
/// does. Throws inv::Error when channels is not 1 or 3, root is not a directory or has no
/// class folders, a class folder has no images, an image is not PNG or JPEG or cannot be
/// decoded (naming the file and the reason), or an image's size differs from the first
/// one's (naming both files and sizes). The images come class by class (all of class 0
/// first); interleave_classes (dataset.hpp) mixes them.
inline Dataset load_image_folder(const std::string& root, int channels = 3) {
  INV_CHECK(channels == 1 || channels == 3, "load_image_folder: channels must be 1 or 3, got ", channels);
  Dataset ds;
  ds.classes = image_folder_classes(root);
  std::vector<std::string> paths;
  for (size_t k = 0; k < ds.classes.size(); ++k) {
    const std::string dir = root + "/" + ds.classes[k];
    const std::vector<std::string> files = data_detail::list_sorted(dir, false);
    INV_CHECK(!files.empty(), "load_image_folder: class folder '", dir, "' has no image files (.png, .jpg, .jpeg)");
    for (const std::string& f : files) {
      paths.push_back(dir + "/" + f);
      ds.labels.push_back(static_cast<int64_t>(k));
    }
  }
  int64_t h0 = 0, w0 = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    const Tensor image = io::load_image(paths[i], channels);
    const int64_t h = image.size(1), w = image.size(2);
    if (i == 0) {
      h0 = h;
      w0 = w;
      ds.images = empty({static_cast<int64_t>(paths.size()), channels, h0, w0});
    }
    INV_CHECK(h == h0 && w == w0, "load_image_folder: '", paths[i], "' is ", h, "x", w, " (HxW) but '", paths[0],
              "' is ", h0, "x", w0, "; all images must have the same size");
    std::copy_n(image.data<float>(), image.numel(), ds.images.data<float>() + static_cast<int64_t>(i) * image.numel());
  }
  return ds;
}

}  // namespace inv::data
