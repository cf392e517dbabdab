// Range checks of configuration values (see setting_check.h).
#include "apps/common/setting_check.h"
#include <cmath>
#include "kernels/common.h"

namespace yoco::app {

std::string SettingCheck::name(const char* field) const {
  auto it = names_.find(field);
  return it != names_.end() ? it->second : owner_ + "." + field;
}

void SettingCheck::positive_finite(const char* field, double v) const {
  YOCO_CHECK(std::isfinite(v) && v > 0, name(field), ": expected a positive finite number, got ", v);
}

void SettingCheck::non_negative_finite(const char* field, double v) const {
  YOCO_CHECK(std::isfinite(v) && v >= 0, name(field), ": expected a finite number >= 0, got ", v);
}

void SettingCheck::within(const char* field, double v, double lo, double hi) const {
  YOCO_CHECK(v >= lo && v <= hi, name(field), ": expected a number in [", lo, ", ", hi, "], got ", v);
}

void SettingCheck::fraction_below_one(const char* field, double v) const {
  YOCO_CHECK(v >= 0 && v < 1, name(field), ": expected a number in [0, 1), got ", v);
}

void SettingCheck::at_least(const char* field, int64_t v, int64_t lo) const {
  YOCO_CHECK(v >= lo, name(field), ": expected an integer >= ", lo, ", got ", v);
}

}  // namespace yoco::app
