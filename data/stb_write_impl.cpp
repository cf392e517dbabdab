// The one translation unit holding the stb_image_write implementation (PNG grids, test fixtures). Separate from
// the decoder so the fuzz build can exempt it: its JPEG encoder left-shifts negative values (UBSan shift-base),
// which is no reader's concern.
#pragma GCC diagnostic push
#include "data/stb_warnings.h"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop
