using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;
using XTuner.Training.IO;
using XTuner.Training.Tests.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.IO
{
    public class SafetensorsTests
    {
        [Fact]
        public void RoundTripsEveryDtypeAndShape()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var generator = new Generator(9);
            var tensors = new List<KeyValuePair<string, Tensor>>
            {
                new("f32", randn(new long[] { 3, 5 }, generator: generator)),
                new("bf16", randn(new long[] { 4, 2, 3 }, generator: generator).to(ScalarType.BFloat16)),
                new("f16", randn(new long[] { 7 }, generator: generator).to(ScalarType.Float16)),
                new("f64", randn(new long[] { 2, 2 }, generator: generator).to(ScalarType.Float64)),
                new("i64", arange(-5, 6, ScalarType.Int64)),
                new("i32", arange(0, 6, ScalarType.Int32).reshape(2, 3)),
                new("u8", arange(0, 4, ScalarType.Byte)),
                new("bool", tensor(new[] { true, false, true })),
                new("scalar", tensor(3.5f)),
                new("empty", zeros(0, 4)),
                new("strided", randn(new long[] { 4, 6 }, generator: generator).t()),
            };
            var path = folder.File("all.safetensors");
            SafetensorsWriter.Write(path, tensors, metadata: new Dictionary<string, string> { ["step"] = "12" });

            using var file = SafetensorsFile.Open(path);
            Assert.Equal("pt", file.Metadata["format"]);
            Assert.Equal("12", file.Metadata["step"]);
            Assert.Equal(tensors.ConvertAll(t => t.Key), new List<string>(file.Tensors.Keys));
            foreach (var (name, expected) in tensors)
                TensorAssert.Equal(file.Read(name), expected.contiguous(), name);
        }

        [Fact]
        public void WritesTheLayoutTheSafetensorsLibraryExpects()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("layout.safetensors");
            SafetensorsWriter.Write(path, new List<KeyValuePair<string, Tensor>> { new("a", ones(3)), new("b", ones(2, 2, ScalarType.BFloat16)) });

            var bytes = File.ReadAllBytes(path);
            var headerLength = BitConverter.ToInt64(bytes, 0);
            Assert.Equal(0, headerLength % 8);
            using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength).TrimEnd(' '));
            Assert.Equal("F32", header.RootElement.GetProperty("a").GetProperty("dtype").GetString());
            Assert.Equal("[0,12]", header.RootElement.GetProperty("a").GetProperty("data_offsets").GetRawText());
            Assert.Equal("[12,20]", header.RootElement.GetProperty("b").GetProperty("data_offsets").GetRawText());
            Assert.Equal(8 + headerLength + 20, bytes.Length);
            Assert.Equal(1.0f, BitConverter.ToSingle(bytes, (int)(8 + headerLength)));
        }

        [Fact]
        public void StoresFloatsInTheRequestedDtype()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("bf16.safetensors");
            var weights = randn(5, 3);
            SafetensorsWriter.Write(path, new List<KeyValuePair<string, Tensor>> { new("w", weights), new("ids", arange(3, ScalarType.Int64)) }, ScalarType.BFloat16);
            using var file = SafetensorsFile.Open(path);
            Assert.Equal(ScalarType.BFloat16, file.Tensors["w"].DType);
            Assert.Equal(ScalarType.Int64, file.Tensors["ids"].DType);
            TensorAssert.Equal(file.Read("w"), weights.to(ScalarType.BFloat16), "w");
        }

        [Fact]
        public void ReadsIntoDestinationsOfAnotherDtype()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("into.safetensors");
            var stored = randn(4, 4).to(ScalarType.BFloat16);
            SafetensorsWriter.Write(path, new List<KeyValuePair<string, Tensor>> { new("w", stored) });
            using var file = SafetensorsFile.Open(path);

            var destination = zeros(4, 4);
            file.ReadInto("w", destination);
            TensorAssert.Equal(destination, stored.to(ScalarType.Float32), "w");
            var error = Assert.Throws<InvalidDataException>(() => file.ReadInto("w", zeros(4, 5)));
            Assert.Contains("'w'", error.Message);
            Assert.Throws<KeyNotFoundException>(() => file.Read("missing"));
        }

        [Fact]
        public void RejectsFilesThatAreNotSafetensors()
        {
            using var folder = new TempFolder();
            var path = folder.File("bad.safetensors");
            File.WriteAllBytes(path, new byte[] { 200, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}' });
            Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));

            var header = Encoding.UTF8.GetBytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}");
            var truncated = new byte[8 + header.Length + 8];
            BitConverter.GetBytes((long)header.Length).CopyTo(truncated, 0);
            header.CopyTo(truncated, 8);
            File.WriteAllBytes(path, truncated);
            var error = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
            Assert.Contains("'w'", error.Message);
        }

        [Fact]
        public void AnElementRangeOfATensorReadsAsItsSlice()
        {
            var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"xtuner-range-{System.Guid.NewGuid():N}.safetensors");
            using var weight = TorchSharp.torch.arange(60, TorchSharp.torch.ScalarType.BFloat16).view(5, 12);
            SafetensorsWriter.Write(path, new[] { new System.Collections.Generic.KeyValuePair<string, TorchSharp.torch.Tensor>("w", weight) });
            using var file = SafetensorsFile.Open(path);
            using var part = TorchSharp.torch.zeros(17, TorchSharp.torch.ScalarType.Float32);
            file.ReadRangeInto("w", 23, part);
            Assert.Equal(System.Linq.Enumerable.Select(System.Linq.Enumerable.Range(23, 17), i => (float)i), part.data<float>().ToArray());
            Assert.Throws<System.ArgumentOutOfRangeException>(() => file.ReadRangeInto("w", 50, part));
        }
    }
}