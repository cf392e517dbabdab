// Bytes from a file quoted in an error message: non-printable bytes become '?' and long text is cut, so the
// message stays one readable line whatever the file holds.
#pragma once
#include <string>
#include <string_view>

namespace yoco::data {

inline std::string printable(std::string_view s, size_t max_chars = 64) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_chars; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > max_chars) out += "...";
  return out;
}

}  // namespace yoco::data
