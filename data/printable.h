// Bytes from a file quoted in an error message: control, non-ASCII and backslash bytes are written as \xNN and long
// text is cut (then "..."), so the message stays one readable line whatever the file holds.
#pragma once
#include <string>
#include <string_view>

namespace yoco::data {

inline std::string printable(std::string_view s, size_t max_chars = 64) {
  std::string out;
  for (size_t k = 0; k < s.size(); ++k) {
    if (out.size() >= max_chars) return out + "...";
    const auto ch = static_cast<unsigned char>(s[k]);
    if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
      out += static_cast<char>(ch);
    } else {
      out += "\\x";
      out += "0123456789abcdef"[ch >> 4];
      out += "0123456789abcdef"[ch & 15];
    }
  }
  return out;
}

}  // namespace yoco::data
