#pragma once

namespace tether::kernels {

// True when the CPU (and OS) support AVX2, FMA and F16C, which the AVX2
// kernels need. Detected once; cheap to call.
bool cpu_has_avx2_fma_f16c();

}  // namespace tether::kernels
