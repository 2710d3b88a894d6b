// datasets.cpp: locating and loading datasets (see datasets.hpp).
#include "datasets.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <inv/data/cifar.hpp>
#include <inv/data/idx.hpp>
#include <inv/data/image_folder.hpp>
#include <inv/data/loader.hpp>
#include <inv/data/transforms.hpp>
#include <inv/ops/shape_ops.hpp>
#include <inv/ops/upsample.hpp>

namespace cli {

namespace fs = std::filesystem;
using inv::data::Dataset;

namespace {

bool is_dir(const std::string& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
bool exists(const std::string& p) { return inv::io::file_exists(p); }
bool exists_raw_or_gz(const std::string& dir, const std::string& name) {
  return exists(dir + "/" + name) || exists(dir + "/" + name + ".gz");
}

bool looks_like_idx(const std::string& dir) {
  return exists_raw_or_gz(dir, "t10k-images-idx3-ubyte") || exists_raw_or_gz(dir, "train-images-idx3-ubyte");
}

/// The CIFAR-10 binary files of `dir`, sorted: the canonical ones (data_batch_*.bin and
/// test_batch.bin), or the JPEG copy (cifar10_{train,test}_jpegq75.bin), or else files
/// whose names contain "train" or "test". One set only: a directory that holds two of
/// them, or a file whose name says both train and test, is refused (inv::Error) rather
/// than guessed at, so that training images never land in the test set.
void find_cifar_files(const std::string& dir, std::vector<std::string>& train, std::vector<std::string>& test) {
  train.clear(), test.clear();
  std::vector<std::string> canonical, copy, other;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() < 4 || name.substr(name.size() - 4) != ".bin") continue;
    if (name.rfind("data_batch_", 0) == 0 || name == "test_batch.bin")
      canonical.push_back(name);
    else if (name == "cifar10_train_jpegq75.bin" || name == "cifar10_test_jpegq75.bin")
      copy.push_back(name);
    else if (name.find("train") != std::string::npos || name.find("test") != std::string::npos)
      other.push_back(name);
  }
  const int sets = int(!canonical.empty()) + int(!copy.empty()) + int(!other.empty());
  if (sets > 1) {
    std::vector<std::string> all = canonical;
    all.insert(all.end(), copy.begin(), copy.end());
    all.insert(all.end(), other.begin(), other.end());
    std::sort(all.begin(), all.end());
    inv::detail::fail("'", dir, "' holds CIFAR-10 binary files of more than one set (", join(all),
                      "); keep one set per directory: data_batch_*.bin and test_batch.bin, or "
                      "cifar10_{train,test}_jpegq75.bin, or one *train*.bin and one *test*.bin");
  }
  for (const std::string& name : !canonical.empty() ? canonical : !copy.empty() ? copy : other) {
    const bool is_train = name.rfind("data_batch_", 0) == 0 || (name != "test_batch.bin" && name.find("train") != std::string::npos);
    const bool is_test = name == "test_batch.bin" || (name.rfind("data_batch_", 0) != 0 && name.find("test") != std::string::npos);
    INV_CHECK(!(is_train && is_test), "'", dir, "/", name, "': the name says both train and test; rename it");
    (is_train ? train : test).push_back(dir + "/" + name);
  }
  std::sort(train.begin(), train.end());
  std::sort(test.begin(), test.end());
}

bool looks_like_cifar(const std::string& dir) {
  std::vector<std::string> train, test;
  find_cifar_files(dir, train, test);
  return !test.empty() || !train.empty();
}

bool is_jpeg_copy(const DataSource& s) {
  for (const auto& f : s.train_files)
    if (f.find("jpegq75") != std::string::npos) return true;
  for (const auto& f : s.test_files)
    if (f.find("jpegq75") != std::string::npos) return true;
  return false;
}

/// `p` made absolute and lexically normal, without a trailing '/' (the checkpoint records
/// it, so that the dataset is found from any working directory).
std::string absolute_path(const std::string& p) {
  std::error_code ec;
  std::string a = fs::absolute(p, ec).lexically_normal().string();
  if (ec) return p;
  while (a.size() > 1 && a.back() == '/') a.pop_back();
  return a;
}

/// Fills format-specific fields for a directory already known to hold the data.
DataSource describe_dir(const std::string& id, const std::string& dir) {
  DataSource s;
  s.id = id;
  s.dir = dir;
  if (looks_like_idx(dir)) {
    s.format = DataSource::Format::Idx;
  } else if (looks_like_cifar(dir)) {
    s.format = DataSource::Format::Cifar;
    find_cifar_files(dir, s.train_files, s.test_files);
  } else {
    const char* layout = "expected IDX files, CIFAR-10 binary files, or an image folder with separate training "
                         "and test images: DIR/train/<class>/*.png and DIR/test/<class>/*.png";
    INV_CHECK(is_dir(dir + "/train") && is_dir(dir + "/test"), "dataset '", dir, "' has ",
              is_dir(dir + "/train") ? "train/ but no test/"
              : is_dir(dir + "/test") ? "test/ but no train/"
                                      : "no dataset files and no train/ and test/ folders",
              " (", layout, ")");
    s.format = DataSource::Format::Folder;
    s.train_folder = dir + "/train";
    s.test_folder = dir + "/test";
    // Labels are positions in the class list: the test split must have the training classes.
    const auto train = inv::data::image_folder_classes(s.train_folder);
    const auto test = inv::data::image_folder_classes(s.test_folder);
    INV_CHECK(train == test, "image folder '", dir, "': the class folders of test/ must be those of train/ (the ",
              "same names, so the same labels), but train/ has ", train.size(), " (", join(train), ") and test/ has ",
              test.size(), " (", join(test), ")");
  }
  return s;
}

struct KnownDataset {
  const char* name;
  const char* display;
  bool (*looks_right)(const std::string& dir);
  const char* how_to_get;
};

const KnownDataset kKnown[] = {
    {"mnist", "MNIST", looks_like_idx,
     "put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
     "t10k-labels-idx1-ubyte.gz (the MNIST download) into one of them, or pass --data-dir DIR"},
    {"fashion-mnist", "Fashion-MNIST", looks_like_idx,
     "install it with: sudo apt-get install dataset-fashion-mnist (or pass --data-dir DIR)"},
    {"cifar10", "CIFAR-10", looks_like_cifar,
     "put the CIFAR-10 binary version (data_batch_1.bin ... data_batch_5.bin, test_batch.bin) into one of them, "
     "or pass --data-dir DIR"},
};

}  // namespace

DataSource locate_dataset(const std::string& name_or_path, const std::string& data_dir) {
  const KnownDataset* known = nullptr;
  for (const auto& k : kKnown)
    if (name_or_path == k.name) known = &k;
  if (!known) {
    INV_CHECK(is_dir(name_or_path), "unknown dataset '", name_or_path,
              "': expected mnist, fashion-mnist, cifar10, or the path of a dataset directory");
    const std::string path = absolute_path(name_or_path);
    DataSource s = describe_dir(path, path);
    s.display = path;
    if (s.format == DataSource::Format::Cifar && is_jpeg_copy(s)) s.display += " (CIFAR-10 JPEG q75 copy)";
    s.accuracy_label = "test accuracy on " + s.display;
    return s;
  }
  // A named dataset is only ever taken from a directory of its own name: IDX files do not
  // say whether they are MNIST or Fashion-MNIST, so a directory holding some other dataset
  // must not pass for this one (a dataset directory itself is given as --dataset PATH).
  const std::string env = std::getenv("INV_DATA_DIR") ? std::getenv("INV_DATA_DIR") : "";
  INV_CHECK(data_dir.empty() || is_dir(data_dir), "--data-dir '", data_dir, "' is not a directory");
  std::vector<std::string> candidates, roots_holding_data;
  for (const std::string& root : {data_dir, env})
    if (!root.empty()) {
      candidates.push_back(root + "/" + known->name);
      if (known->looks_right(root)) roots_holding_data.push_back(root);
    }
  candidates.push_back(std::string("/usr/share/datasets/") + known->name);
  candidates.push_back(std::string("./data/") + known->name);
  for (const std::string& dir : candidates) {
    std::string d = dir;
    if (known->looks_right == looks_like_cifar && is_dir(dir + "/cifar-10-batches-bin")) d = dir + "/cifar-10-batches-bin";
    if (!is_dir(d) || !known->looks_right(d)) continue;
    DataSource s = describe_dir(known->name, d);
    s.display = known->display;
    if (s.format == DataSource::Format::Cifar && is_jpeg_copy(s)) {
      s.display = "CIFAR-10 (JPEG q75 copy)";
      s.accuracy_label = "test accuracy on the CIFAR-10 JPEG q75 copy (not comparable with CIFAR-10 results)";
    } else {
      s.accuracy_label = std::string(known->display) + " test accuracy";
    }
    if (s.format == DataSource::Format::Idx)
      s.class_names = std::string(known->name) == "fashion-mnist" ? inv::data::fashion_mnist_classes()
                                                                  : inv::data::mnist_classes();
    return s;
  }
  std::string tried;
  for (const auto& c : candidates) tried += (tried.empty() ? "" : ", ") + c;
  std::string hint;
  for (const auto& r : roots_holding_data)
    hint += "; '" + r + "' itself holds a dataset: pass --dataset " + r + " to use it";
  inv::detail::fail("dataset '", known->name, "' not found (tried ", tried, ")", hint, "; ", known->how_to_get);
}

Dataset load_split(const DataSource& src, bool train, int channels) {
  Dataset ds;
  switch (src.format) {
    case DataSource::Format::Idx: {
      std::vector<std::string> names = src.class_names.empty() ? inv::data::mnist_classes() : src.class_names;
      ds = inv::data::load_mnist_like(src.dir, train, names);
      if (src.class_names.empty() && ds.size() > 0) {  // a path: classes 0 .. max label
        const int64_t top = *std::max_element(ds.labels.begin(), ds.labels.end());
        ds.classes.resize(size_t(top + 1));
      }
      break;
    }
    case DataSource::Format::Cifar: {
      const auto& files = train ? src.train_files : src.test_files;
      INV_CHECK(!files.empty(), "no CIFAR-10 ", train ? "training" : "test", " files in '", src.dir,
                "' (expected ", train ? "data_batch_*.bin or *train*.bin" : "test_batch.bin or *test*.bin", ")");
      ds = inv::data::load_cifar10_binary(files);
      break;
    }
    case DataSource::Format::Folder:
      ds = inv::data::load_image_folder(train ? src.train_folder : src.test_folder, channels);
      if (train) ds = inv::data::interleave_classes(ds);  // so that the held-out tail is not whole classes
      break;
  }
  INV_CHECK(ds.size() > 0, src.display, ": the ", train ? "training" : "test", " set is empty");
  return ds;
}

void check_input_shape(const Dataset& ds, const inv::Shape& input_shape, const std::string& model,
                       const std::string& what) {
  const inv::Shape chw(ds.images.shape().begin() + 1, ds.images.shape().end());
  INV_CHECK(chw == input_shape, what, " has images of shape ", inv::to_string(chw), " but ", model, " expects ",
            inv::to_string(input_shape),
            " (lenet: 28x28 grey, e.g. mnist or fashion-mnist; cifar-cnn: 32x32 RGB; vgg11-bn: 32x32 RGB; resnet20 "
            "and resnet18: RGB, resized to --input-size)");
}

void fit_input_size(Dataset& ds, const inv::Shape& input_shape, bool resizable, const std::string& model,
                    const std::string& what) {
  const inv::Shape chw(ds.images.shape().begin() + 1, ds.images.shape().end());
  if (chw == input_shape || !resizable || chw.size() != 3 || chw[0] != input_shape[0]) {
    check_input_shape(ds, input_shape, model, what);
    return;
  }
  const int64_t n = ds.size(), h = input_shape[1], w = input_shape[2];
  inv::Tensor out = inv::empty({n, chw[0], h, w});
  inv::NoGradGuard no_grad;
  const auto options = inv::UpsampleOptions().size(h, w).mode(inv::UpsampleMode::Bilinear);
  const int64_t per_image = chw[0] * h * w;
  for (int64_t b = 0; b < n; b += 256) {  // in batches: the source and the result of one batch at a time
    const int64_t e = std::min(n, b + 256);
    const inv::Tensor part = inv::copy_data(inv::upsample(inv::slice(ds.images, 0, b, e), options));
    std::copy_n(part.data<float>(), part.numel(), out.data<float>() + b * per_image);
  }
  ds.images = out;
}

}  // namespace cli
