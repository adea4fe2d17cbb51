#include "engine/kernels/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace tether::kernels {
namespace {

#if defined(__x86_64__) || defined(__i386__)
bool detect() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool fma = (ecx >> 12) & 1u;
  const bool osxsave = (ecx >> 27) & 1u;
  const bool avx = (ecx >> 28) & 1u;
  const bool f16c = (ecx >> 29) & 1u;
  if (!(fma && osxsave && avx && f16c)) return false;
  // The OS must save the XMM and YMM state on context switches (XCR0 bits 1-2).
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 0x6u) != 0x6u) return false;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ebx >> 5) & 1u;  // AVX2
}
#else
bool detect() { return false; }
#endif

}  // namespace

bool cpu_has_avx2_fma_f16c() {
  static const bool has = [] {
    // TETHER_FORCE_SCALAR=1 rules out the SIMD kernels without a rebuild.
    const char* force = std::getenv("TETHER_FORCE_SCALAR");
    if (force != nullptr && std::strcmp(force, "1") == 0) return false;
    return detect();
  }();
  return has;
}

}  // namespace tether::kernels
