// CIFAR-10 as an image folder (DIR/{train,test|val}/<class>/*.{png,jpg,jpeg}), beside the official binary batches.
#pragma once
#include <string>
#include <vector>
#include "data/dataset.h"

namespace yoco::data {

// CIFAR-10's label order, which is also the folders' sorted order.
const std::vector<std::string>& cifar10_class_names();

// True when `dir` holds no binary batches (here or in cifar-10-batches-bin/) but a train/, test/ or val/ folder.
bool is_cifar10_folder(const std::string& dir);

// Train = DIR/train, test = DIR/test (else DIR/val). The class folders must be exactly CIFAR-10's ten names
// (an error names the missing and unexpected ones); files are sorted by name within a class. Every image must be
// 32x32 (used as it is: no resize; another size is refused naming the file); grey or RGBA files become RGB.
Dataset load_cifar10_folder(const std::string& dir, bool train);

}  // namespace yoco::data
