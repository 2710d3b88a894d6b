// Image folders (inv/data/image_folder.hpp): root/<class>/<image> read as a dataset,
// classes and files sorted, pixels exact, clear errors, and the class-interleaved order
// that keeps a held-out tail from being whole classes.
#include <stb_image_write.h>
#include <unistd.h>

#include "image_bytes.hpp"
#include "temp_dir.hpp"
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <inv/data/dataset.hpp>
#include <inv/data/image_folder.hpp>
#include <inv/inv.hpp>

using namespace inv;
using namespace inv::data;
using Bytes = std::vector<uint8_t>;
using I = std::vector<int64_t>;
namespace fs = std::filesystem;

namespace {

using TempDir = inv::testing::TempDir;

void write_png(const std::string& path, int w, int h, int comp, const Bytes& pixels) {
  REQUIRE(stbi_write_png(path.c_str(), w, h, comp, pixels.data(), w * comp) != 0);
}

}  // namespace

TEST_CASE("image folders: classes and files sorted, pixels exact", "[data][image_folder]") {
  TempDir dir;
  for (const char* c : {"dog", "cat", ".hidden"}) fs::create_directories(dir.path / c);
  io::write_file_atomic(dir.file("readme.txt"), std::string("a file, not a class"));
  // cat: two grey 2x3 PNGs (b before a in creation, sorted by name on load) and a text file.
  write_png(dir.file("cat/b.png"), 3, 2, 1, {10, 20, 30, 40, 50, 60});
  write_png(dir.file("cat/a.PNG"), 3, 2, 1, {0, 255, 1, 2, 3, 4});
  io::write_file_atomic(dir.file("cat/notes.txt"), std::string("ignored"));
  // dog: one RGB PNG.
  Bytes rgb(2 * 3 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t(i * 10);
  write_png(dir.file("dog/x.png"), 3, 2, 3, rgb);
  write_png(dir.file(".hidden/h.png"), 3, 2, 1, Bytes(6, 0));

  const Dataset ds = load_image_folder(dir.path.string(), 3);
  CHECK(ds.classes == std::vector<std::string>{"cat", "dog"});
  CHECK(ds.labels == I{0, 0, 1});
  CHECK(ds.images.shape() == Shape{3, 3, 2, 3});
  // a.PNG first; grey replicated to R, G, B.
  for (int64_t c = 0; c < 3; ++c) {
    CHECK(ds.images.at<float>({0, c, 0, 1}) == 1.0f);
    CHECK(ds.images.at<float>({0, c, 1, 2}) == 4.0f / 255.0f);
    CHECK(ds.images.at<float>({1, c, 0, 0}) == 10.0f / 255.0f);
  }
  // The BMP, interleaved RGB -> planar: pixel (1, 2) is bytes 15, 16, 17 -> 150, 160, 170.
  CHECK(ds.images.at<float>({2, 0, 1, 2}) == 150.0f / 255.0f);
  CHECK(ds.images.at<float>({2, 1, 1, 2}) == 160.0f / 255.0f);
  CHECK(ds.images.at<float>({2, 2, 1, 2}) == 170.0f / 255.0f);

  const Dataset grey = load_image_folder(dir.path.string(), 1);
  CHECK(grey.images.shape() == Shape{3, 1, 2, 3});
  CHECK(grey.images.at<float>({1, 0, 1, 2}) == 60.0f / 255.0f);
  // Pillow's luma: (19595 R + 38470 G + 7471 B + 32768) >> 16 = (2939250 + 6155200 + 1270070 + 32768) >> 16 = 158.
  CHECK(grey.images.at<float>({2, 0, 1, 2}) == 158.0f / 255.0f);
}

TEST_CASE("image folders: clear errors", "[data][image_folder]") {
  using Catch::Contains;
  TempDir dir;
  CHECK_THROWS_WITH(load_image_folder(dir.file("nope")), Contains("is not a directory"));
  CHECK_THROWS_WITH(load_image_folder(dir.path.string()), Contains("no class folders"));
  CHECK_THROWS_WITH(load_image_folder(dir.path.string(), 2), Contains("channels must be 1 or 3"));
  fs::create_directories(dir.path / "a");
  fs::create_directories(dir.path / "b");
  write_png(dir.file("a/1.png"), 2, 2, 1, Bytes(4, 7));
  CHECK_THROWS_WITH(load_image_folder(dir.path.string()), Contains(dir.file("b")) && Contains("has no image files"));
  write_png(dir.file("b/1.png"), 3, 2, 1, Bytes(6, 7));
  CHECK_THROWS_WITH(load_image_folder(dir.path.string()), Contains(dir.file("b/1.png")) && Contains("2x3") &&
                                                              Contains(dir.file("a/1.png")) && Contains("2x2"));
  fs::remove(dir.path / "b" / "1.png");
  io::write_file_atomic(dir.file("b/0.jpg"), std::string("this is not a jpeg"));
  CHECK_THROWS_WITH(load_image_folder(dir.path.string()), Contains(dir.file("b/0.jpg")) && Contains("cannot decode"));
  // A PNG header claiming 20000 x 20000 pixels is refused before it is decoded.
  fs::remove(dir.path / "b" / "0.jpg");
  const Bytes huge = inv::testing::png_header_only(20000, 20000);
  io::write_file_atomic(dir.file("b/0.png"), huge.data(), huge.size());
  CHECK_THROWS_WITH(load_image_folder(dir.path.string()),
                    Contains(dir.file("b/0.png")) && Contains("claims 20000 x 20000 pixels"));
  // A BMP (a torchvision image extension) is an error that names the format, not a file skipped.
  fs::remove(dir.path / "b" / "0.png");
  const Bytes bmp = inv::testing::bmp_header_only(2, 2);
  io::write_file_atomic(dir.file("b/0.bmp"), bmp.data(), bmp.size());
  CHECK_THROWS_WITH(load_image_folder(dir.path.string()),
                    Contains(dir.file("b/0.bmp")) && Contains("BMP images are not read"));
}

TEST_CASE("image_folder_classes lists the class folders sorted, as load_image_folder labels them",
          "[data][image_folder]") {
  TempDir dir;
  for (const char* c : {"zebra", "ant", ".hidden"}) fs::create_directories(dir.path / c);
  io::write_file_atomic(dir.file("file.png"), std::string("not a class"));
  CHECK(image_folder_classes(dir.path.string()) == std::vector<std::string>{"ant", "zebra"});
  CHECK_THROWS_WITH(image_folder_classes(dir.file("nope")), Catch::Contains("is not a directory"));
}

TEST_CASE("an image folder with classes of different sizes, interleaved: the held-out tail has every class",
          "[data][image_folder]") {
  TempDir dir;
  const std::vector<std::pair<std::string, int>> sizes = {{"a", 5}, {"b", 3}, {"c", 2}};
  for (const auto& [name, n] : sizes)
    for (int i = 0; i < n; ++i) {
      fs::create_directories(dir.path / name);
      write_png(dir.file(name + "/" + std::to_string(i) + ".png"), 2, 2, 1, Bytes(4, uint8_t(i)));
    }
  const Dataset sorted = load_image_folder(dir.path.string(), 1);
  CHECK(sorted.labels == I{0, 0, 0, 0, 0, 1, 1, 1, 2, 2});  // class by class: a tail is whole classes
  const Dataset mixed = interleave_classes(sorted);
  CHECK(mixed.labels == I{0, 1, 2, 0, 1, 2, 0, 1, 0, 0});
  // A holdout of the last 5: the tail and the rest both hold every class.
  const std::vector<int64_t> tail(mixed.labels.end() - 5, mixed.labels.end()), head(mixed.labels.begin(),
                                                                                     mixed.labels.end() - 5);
  CHECK(std::set<int64_t>(tail.begin(), tail.end()) == std::set<int64_t>{0, 1, 2});
  CHECK(std::set<int64_t>(head.begin(), head.end()) == std::set<int64_t>{0, 1, 2});
}

