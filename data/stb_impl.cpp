// The one translation unit holding the stb_image implementation (header-only library; the writer is in
// stb_write_impl.cpp, so a sanitized fuzz build can check the decoder alone).
#pragma GCC diagnostic push
#include "data/stb_warnings.h"
// Only the formats the image-folder reader accepts: a file named .png that holds a PSD, HDR or GIF is refused
// instead of reaching those decoders. The dimension cap backs up the reader's own check (stbi_info first).
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_MAX_DIMENSIONS (1 << 15)
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#pragma GCC diagnostic pop
