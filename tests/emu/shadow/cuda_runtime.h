// Emulator shadow of <cuda_runtime.h>: the runtime types and calls the emulated kernel files use (tests/emu).
#pragma once
#include "tests/emu/emu_cuda.h"
