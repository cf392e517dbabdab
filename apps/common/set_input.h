// Set inputs for the apps: the flags that describe a PyTorch .pt set (what the file cannot say about itself).
#pragma once
#include <CLI/CLI.hpp>
#include "data/set_import.h"

namespace yoco::app {

// Adds --ipc, --factor, --class-counts (and --dataset when `with_dataset`) to `c`, filling `o`. For a .pt input
// they fill its meta; for a .npz they are checked against its meta. Load with data::load_set_any(path, o).
void add_pt_import_flags(CLI::App* c, data::PtImportOptions& o, bool with_dataset);

}  // namespace yoco::app
