// datasets.hpp: finding and loading datasets by name or path, and the attacker's data.
//
// Names: mnist, fashion-mnist, cifar10. Their directory is searched in this order:
//   --data-dir DIR/<name>, $INV_DATA_DIR/<name>,
//   /usr/share/datasets/<name> (Debian's dataset-fashion-mnist installs Fashion-MNIST there),
//   ./data/<name>.
// A path names a directory holding IDX files, CIFAR-10 binary files, or an image folder
// (train/<class>/* and test/<class>/*, with the same class folders in both; a folder of
// class folders alone is refused, it would have no separate test set). The CIFAR-10 files of the development copy
// (cifar10_{train,test}_jpegq75.bin) were decoded from JPEG (quality 75): the dataset is
// then called "CIFAR-10 (JPEG q75 copy)" and its accuracy is never called CIFAR-10 accuracy.
#pragma once

#include <string>
#include <vector>

#include <inv/data/dataset.hpp>

#include "settings.hpp"

namespace cli {

/// Where a dataset lives and how it is called in reports.
struct DataSource {
  std::string id;              // the name given, or the path given made absolute
  std::string display;         // "Fashion-MNIST", "CIFAR-10 (JPEG q75 copy)", or the path
  std::string accuracy_label;  // "Fashion-MNIST test accuracy", ...
  std::string dir;             // the directory found
  enum class Format { Idx, Cifar, Folder } format = Format::Idx;
  std::vector<std::string> train_files, test_files;  // CIFAR binary files
  std::string train_folder, test_folder;             // image folders
  std::vector<std::string> class_names;              // for IDX data (names by label)
};

/// Finds a dataset by name or path (see the header); a path is made absolute (id, dir and
/// display), so that checkpoints record where the data is. Throws inv::Error when it cannot
/// be found: the message names the paths tried and, for Fashion-MNIST, the Debian package.
DataSource locate_dataset(const std::string& name_or_path, const std::string& data_dir);

/// The training (train = true) or test split, images (N, C, H, W) in [0, 1]. `channels`
/// applies to image folders (1 for lenet, 3 for cifar-cnn). The training images of an
/// image folder come class-interleaved (data::interleave_classes: image 0 of each class,
/// then image 1 of each, ...), so that the held-out tail (protocol::target_part) is not whole
/// classes; IDX and CIFAR-10 files keep their order (already mixed). Throws inv::Error for
/// missing or invalid files.
inv::data::Dataset load_split(const DataSource& src, bool train, int channels);

/// Throws inv::Error unless the images are (C, H, W) = `input_shape` (the model's input).
void check_input_shape(const inv::data::Dataset& ds, const inv::Shape& input_shape, const std::string& model,
                       const std::string& what);

/// Brings the images of `ds` to the model's input `input_shape` (C, H, W): unchanged when
/// they have it; when only H and W differ and the model takes any input size (`resizable`:
/// the ResNets, which pool globally), resized to it once, bilinearly as PyTorch's
/// F.interpolate(mode="bilinear", align_corners=False) without antialiasing (values stay in
/// [0, 1]; the whole split is held at the new size: 50,000 images at 224x224 take 30 GB);
/// otherwise inv::Error as check_input_shape. `what` names the images in the message.
void fit_input_size(inv::data::Dataset& ds, const inv::Shape& input_shape, bool resizable, const std::string& model,
                    const std::string& what);

}  // namespace cli
