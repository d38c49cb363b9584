//! Whether the TreeSHAP loops may run compiled for a newer x86-64 than the build's.
//!
//! The release build targets baseline x86-64 (SSE2), so it runs anywhere; the tree
//! explainers' hot loops are also compiled a second time with AVX2, FMA, BMI and
//! POPCNT (the x86-64-v3 level, every x86 server CPU since 2013) and take that copy
//! when the CPU reports the features at run time. Both copies compute the same
//! operations in the same order (no fused multiply-adds are asked for), so they
//! give the same numbers; the newer one just uses 4-wide vectors and one-instruction
//! bit counts.

/// True when the CPU has every feature the `v3` copies are compiled with.
#[inline]
pub(crate) fn has_v3() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("bmi2")
            && std::is_x86_feature_detected!("popcnt")
            && std::is_x86_feature_detected!("lzcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
