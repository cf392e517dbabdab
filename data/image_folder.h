// Image-folder reader (root/<class>/*.{jpg,jpeg,png}), e.g. ImageNet-10 subsets, resized to size x size RGB.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>
#include "data/dataset.h"

namespace yoco::data {

// Classes = subdirectories of root sorted by name (label = index); files sorted by name within a class.
// Each image: decoded with stb_image as RGB, shorter side resized to `size` (bilinear), then center-cropped
// to size x size. `name` picks the mean/std (e.g. "imagenet10"); an unknown name falls back to ImageNet's.
// max_per_class > 0 keeps only the first files of each class (quick experiments).
Dataset load_image_folder(const std::string& root, int64_t size, const std::string& name = "imagenet",
                          int64_t max_per_class = 0);

// One PNG/JPEG file's bytes decoded, resized and cropped as load_image_folder does, into dst (3*size*size
// floats). The header's dimensions are checked (at most 16384 a side, 64 Mpx) before decoding; `what` names the
// file in errors.
void decode_image(const char* data, size_t n, const std::string& what, int64_t size, float* dst);
// The (width, height) a PNG/JPEG header declares, after the same checks decode_image makes, without decoding.
std::pair<int, int> image_dimensions(const char* data, size_t n, const std::string& what);
// One image file's bytes, refusing a file over the reader's cap (256 MiB) before reading it.
std::vector<char> read_image_file(const std::string& path);
// The .jpg/.jpeg/.png regular files of one folder, sorted by name; unreadable entries are one-line errors.
std::vector<std::string> image_files(const std::string& dir);

// The class folder names load_image_folder would use, in label order.
std::vector<std::string> image_folder_classes(const std::string& root);

// Bilinear resize of an interleaved uint8 HWC image to float CHW in [0,1] of (oh, ow), then the centre
// (out_h, out_w) window is kept. Exposed for tests.
void resize_center_crop(const uint8_t* src, int h, int w, int c, int oh, int ow, int out_h, int out_w, float* dst);

}  // namespace yoco::data
