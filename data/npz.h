// .npz container: a plain zip of STORED (uncompressed) .npy v1.0 entries that numpy.load reads, and a reader
// that also accepts numpy's np.savez output.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>
#include "engine/tensor.h"

namespace yoco::data {

// One array: dtype is a numpy descr ("<f4", "<f2", "<i8" or "|u1"), bytes are C-order little-endian elements.
struct NpyArray {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<char> bytes;
  int64_t numel() const;
};

// Host copies between tensors and arrays (f32 <-> "<f4", i64 <-> "<i8"). "<f2" (IEEE half) loads as an F32
// tensor (exact); npy_f16_from_tensor stores an F32 tensor as "<f2", rounding to nearest even (see data/half.h).
NpyArray npy_from_tensor(const Tensor& t);
NpyArray npy_f16_from_tensor(const Tensor& t);
Tensor tensor_from_npy(const NpyArray& a, const std::string& what);  // `what` names file/entry in errors
NpyArray npy_from_string(const std::string& s);                     // "|u1" 1-D, e.g. UTF-8 JSON
std::string string_from_npy(const NpyArray& a, const std::string& what);

// Entry names get ".npy" appended in the zip (numpy's convention); keys may contain '/' ("scores/el2n").
// Atomic: writes path + ".tmp", then renames over path; on any error the temp file is removed and this throws.
void write_npz(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& arrays);

// Keys without ".npy". Validates the zip structure, CRCs, npy headers and byte counts; refuses compressed
// entries (np.savez_compressed). Every error names the file and the entry.
std::map<std::string, NpyArray> read_npz(const std::string& path);
// The same from bytes in memory; `path` names them in errors.
std::map<std::string, NpyArray> read_npz_bytes(const char* data, size_t size, const std::string& path);

// The .npy v1.0 serialisation of one array (header padded to a multiple of 64 bytes) and its parser.
std::vector<char> npy_serialize(const NpyArray& a);
// Parses one .npy entry, refusing any header, shape (at most 8 dimensions) or byte count that disagrees with the
// `size` bytes present before copying anything.
NpyArray npy_parse(const char* data, size_t size, const std::string& what);
// Bytes of `shape` at `itemsize` each, refusing negative or huge dimensions and any product that overflows.
uint64_t checked_nbytes(const std::vector<int64_t>& shape, size_t itemsize, const std::string& what);

}  // namespace yoco::data
