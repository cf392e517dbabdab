// CIFAR-10 / CIFAR-100 binary-version readers (data_batch_*.bin / test_batch.bin, train.bin / test.bin).
#pragma once
#include <string>
#include "data/dataset.h"

namespace yoco::data {

// Records of 1 label byte + 3072 pixel bytes (R plane, G plane, B plane, 32x32 each). Accepts `dir` itself or
// `dir/cifar-10-batches-bin`. Train = data_batch_1..5.bin in order, test = test_batch.bin.
Dataset load_cifar10(const std::string& dir, bool train);

// Records of 2 label bytes (coarse, fine) + 3072 pixel bytes; the fine label (100 classes) is used.
// Accepts `dir` itself or `dir/cifar-100-binary`. Train = train.bin, test = test.bin.
Dataset load_cifar100(const std::string& dir, bool train);

}  // namespace yoco::data
