#include "engine/sampling/random_generator.h"

#include "common/split_mix64.h"

namespace tether::sampling {

namespace {

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

RandomGenerator::RandomGenerator(uint64_t seed) {
  // splitmix64 never yields four zero words, the one state xoshiro must avoid.
  SplitMix64 seeder(seed);
  for (uint64_t& word : state_) word = seeder.next();
}

uint64_t RandomGenerator::next_u64() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

}  // namespace tether::sampling
