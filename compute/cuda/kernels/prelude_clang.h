// prelude_clang.h stands in for the CUDA headers when scripts/cuda-compile-check
// compiles the kernels with clang (-nocudainc -nocudalib, GPU.md): it declares
// the qualifiers, types and device functions the kernels use. NVRTC provides
// all of these itself and never sees this file. The math functions become
// calls to libdevice's __nv_* functions, left unresolved in the PTX: this is a
// syntax and type check, not a build.
#pragma once

#include <__clang_cuda_builtin_vars.h>

#define __host__ __attribute__((host))
#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ __inline__ __attribute__((always_inline))

typedef __SIZE_TYPE__ size_t;
#define INFINITY __builtin_huge_valf()

extern "C" {
__device__ float __nv_expf(float);
__device__ float __nv_logf(float);
__device__ float __nv_sqrtf(float);
__device__ float __nv_fmaxf(float, float);
__device__ double __nv_log(double);
__device__ void __nv_sincos(double, double*, double*);
__device__ long long __nv_double_as_longlong(double);
__device__ double __nv_longlong_as_double(long long);
}

static __device__ __forceinline__ float expf(float x) { return __nv_expf(x); }
static __device__ __forceinline__ float logf(float x) { return __nv_logf(x); }
static __device__ __forceinline__ float sqrtf(float x) { return __nv_sqrtf(x); }
static __device__ __forceinline__ float fmaxf(float a, float b) { return __nv_fmaxf(a, b); }
static __device__ __forceinline__ double log(double x) { return __nv_log(x); }
static __device__ __forceinline__ void sincos(double x, double* s, double* c) { __nv_sincos(x, s, c); }
static __device__ __forceinline__ long long __double_as_longlong(double x) { return __nv_double_as_longlong(x); }
static __device__ __forceinline__ double __longlong_as_double(long long x) { return __nv_longlong_as_double(x); }
static __device__ __forceinline__ int min(int a, int b) { return a < b ? a : b; }
static __device__ __forceinline__ int max(int a, int b) { return a > b ? a : b; }

static __device__ __forceinline__ float __shfl_xor_sync(unsigned mask, float v, int lane) {
    return __nvvm_shfl_sync_bfly_f32(mask, v, lane, 0x1f);
}
static __device__ __forceinline__ int __shfl_xor_sync(unsigned mask, int v, int lane) {
    return __nvvm_shfl_sync_bfly_i32(mask, v, lane, 0x1f);
}
static __device__ __forceinline__ float __shfl_sync(unsigned mask, float v, int src) {
    return __nvvm_shfl_sync_idx_f32(mask, v, src, 0x1f);
}
// __syncthreads is a clang builtin in CUDA mode.
static __device__ __forceinline__ float atomicAdd(float* p, float v) { return __nvvm_atom_add_gen_f(p, v); }
