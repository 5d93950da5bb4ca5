#pragma once

// The generated benchmark policy written as plain C++ (bench/gen_policy.py
// --cpp): the practical floor the engine is measured against.

#include <cstdint>

namespace creditd::bench {

struct NativeFacts {
  int64_t money[10];  // cents
  int64_t ints[10];
  int64_t ratios[10];  // hundredths of a percent: 55% = 5500
  int enums[5];        // ordinals
  bool flags[5];
};

struct NativeDecision {
  int outcome;
  int64_t limit;  // cents
  int approval;
  uint32_t flags;
  int reason_count;
  int reasons[512];
};

void NativePolicy100(const NativeFacts& facts, NativeDecision& decision);

}  // namespace creditd::bench
