// Shared pieces of the fuzz targets: the fixed set and run configuration some readers are checked against, scratch
// files in /dev/shm for readers that take a path, and the valid inputs that seed each target's corpus.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>
#include "apps/common/condense.h"
#include "data/set_file.h"

namespace yoco::fuzz {

// A valid 2-class, ipc 1, factor 1, 1x8x8 "fashion-mnist" set (the scores target's reference set).
const data::CondensedSet& tiny_set();
// The configuration the checkpoint target resumes with (fashion-mnist, ipc 1, factor 1, seed 7), and the data it
// resumes on (2 classes of 1x8x8 images: the checkpoint is checked against its name, classes and image shape).
const app::CondenseConfig& checkpoint_config();
const data::Dataset& checkpoint_dataset();

// `name` in this process's scratch directory (/dev/shm when present, else the temp dir), created on first use and
// removed at a normal exit.
std::string scratch_path(const std::string& name);
// Writes the bytes to path (truncating); aborts if that fails, since the target would then test nothing.
void write_bytes(const std::string& path, const uint8_t* data, size_t size);

// Writes valid seed inputs for every target into <dir>/<target>/ (npz, set, scores, checkpoint, idx, cifar, image,
// pt).
void write_seeds(const std::string& dir);

// Runs f; a yoco::Error (a clean one-line refusal) is a normal outcome. With `strict`, any other exception is a
// finding (the reader let a library's error through instead of checking first) and aborts with its message.
template <class F>
void expect_clean(F&& f, bool strict);

}  // namespace yoco::fuzz

#include "tests/fuzz/fixtures_inl.h"
