// Condensed sets from and to PyTorch .pt files: IDC's torch.save([images, labels], "data.pt") imported with its
// meta filled from the caller's flags and the dataset registry, and our sets written in the same layout.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "data/set_file.h"

namespace yoco::data {

// What a .pt file cannot say about itself. For a .npz input, set fields are checked against its meta instead.
struct PtImportOptions {
  std::string dataset;                // required for .pt (fashion-mnist, mnist, cifar10, cifar100, imagenet10)
  int64_t ipc = 0;                    // 0: N / num_classes (balanced sets)
  int64_t factor = 0;                 // required for .pt: IDC's multi-formation factor (1 = none)
  std::vector<int64_t> class_counts;  // declared per-class counts of an imbalanced set; empty = balanced
};

// True for a path ending in ".pt" or ".pth".
bool is_pt_path(const std::string& path);

// Reads a torch.save file holding [images, labels], (images, labels) or {"images": ..., "labels": ...}:
// images float [N,C,H,W] (float32/float16/bfloat16/float64), labels integer [N], class-major and balanced unless
// `class_counts` declares the counts. Values outside [0,1] are clamped (IDC saves without clamping) and the meta
// records how many were; NaN or inf is refused. Errors name the file and what was expected.
CondensedSet import_pt_set(const std::string& path, const PtImportOptions& o);

// A .pt through import_pt_set, anything else through load_set (with o's set fields as expectations).
CondensedSet load_set_any(const std::string& path, const PtImportOptions& o);

// torch.save([images, labels]) layout: images float32 (float16 when s.meta.storage is f16), labels int64.
// The meta is not stored (torch users get IDC's layout); the set is checked first and written atomically.
void save_pt_set(const std::string& path, const CondensedSet& s);
// save_pt_set for a .pt path, save_set otherwise.
void save_set_any(const std::string& path, const CondensedSet& s);

}  // namespace yoco::data
