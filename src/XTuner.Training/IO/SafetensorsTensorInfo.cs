using static TorchSharp.torch;

namespace XTuner.Training.IO
{
    /// <summary>Where one tensor lies in a safetensors file.</summary>
    /// <param name="Name">The tensor's key.</param>
    /// <param name="DType">Its element type.</param>
    /// <param name="Shape">Its shape.</param>
    /// <param name="FileOffset">Absolute offset of its first byte in the file.</param>
    /// <param name="ByteLength">Bytes it occupies.</param>
    public sealed record SafetensorsTensorInfo(string Name, ScalarType DType, long[] Shape, long FileOffset, long ByteLength);
}
