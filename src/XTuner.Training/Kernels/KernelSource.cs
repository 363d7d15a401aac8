namespace XTuner.Training.Kernels
{
    /// <summary>
    /// CUDA C++ shared by every fused kernel, with no header of the CUDA toolkit (NVRTC then needs nothing beside
    /// itself): bf16 is <c>unsigned short</c> with the conversions of <see cref="BFloat16Bits"/>, and the loads, stores and
    /// roundings are overloaded on the element type, so one template serves float32 and bf16.
    /// </summary>
    internal static class KernelSource
    {
        public const string Common = @"
typedef unsigned short bf16;

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(bf16 x) { return __uint_as_float(((unsigned int)x) << 16); }

// Round to nearest even as c10::BFloat16 does; every NaN becomes the quiet NaN 0x7FC0.
__device__ __forceinline__ bf16 float_to_bf16(float f)
{
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16)0x7fc0u;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16)(u >> 16);
}

__device__ __forceinline__ void store(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void store(bf16* p, long long i, float v) { p[i] = float_to_bf16(v); }

// A float rounded to the element type, as a tensor of that type would hold it.
__device__ __forceinline__ float round_to(const float*, float v) { return v; }
__device__ __forceinline__ float round_to(const bf16*, float v) { return to_float(float_to_bf16(v)); }

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the sum.
__device__ float block_sum(float v, float* shared)
{
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    float total = 0.f;
    for (int w = 0; w < warps; w++) total += shared[w];
    return total;
}
";
    }

    /// <summary>
    /// float32 to bfloat16 bits and back, exactly as the kernels' <c>float_to_bf16</c> and libtorch's c10::BFloat16 do
    /// (round to nearest even; every NaN becomes 0x7FC0). Tests hold the CUDA constants to this definition.
    /// </summary>
    internal static class BFloat16Bits
    {
        /// <summary>The bfloat16 nearest <paramref name="value"/>, ties to even.</summary>
        public static ushort FromFloat(float value)
        {
            uint u = (uint)System.BitConverter.SingleToInt32Bits(value);
            if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
            u += 0x7fffu + ((u >> 16) & 1u);
            return (ushort)(u >> 16);
        }

        /// <summary>The float32 a bfloat16 stands for (exact).</summary>
        public static float ToFloat(ushort bits) => System.BitConverter.Int32BitsToSingle(bits << 16);
    }
}
