// Range checks of configuration values for the library's validate() functions: a value out of range is refused,
// never replaced, with one line naming the setting as the caller knows it (a flag in an app, the field otherwise).
#pragma once
#include <cstdint>
#include <map>
#include <utility>
#include <string>

namespace yoco::app {

// Config field -> the name errors use for it, e.g. {"lr_img", "--lr-img"}; a field not listed is called
// "<struct>.<field>".
using SettingNames = std::map<std::string, std::string>;

class SettingCheck {
 public:
  SettingCheck(std::string owner, const SettingNames& names) : owner_(std::move(owner)), names_(names) {}

  void positive_finite(const char* field, double v) const;           // 0 < v < inf
  void non_negative_finite(const char* field, double v) const;       // 0 <= v < inf
  void within(const char* field, double v, double lo, double hi) const;  // lo <= v <= hi (NaN refused)
  void fraction_below_one(const char* field, double v) const;        // 0 <= v < 1 (momentum)
  void at_least(const char* field, int64_t v, int64_t lo) const;

 private:
  std::string name(const char* field) const;
  std::string owner_;
  SettingNames names_;
};

}  // namespace yoco::app
