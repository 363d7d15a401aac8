using System;
using XTuner.Core.Launch;
using Xunit;

namespace XTuner.Core.Tests.Launch
{
    public class SlurmNodeListTests
    {
        [Theory]
        [InlineData("localhost", "localhost")]
        [InlineData("node[01-03,07],gpu-a", "node01 node02 node03 node07 gpu-a")]
        [InlineData("gpu-a,node[8-11]", "gpu-a node8 node9 node10 node11")]
        [InlineData("n[098-101]", "n098 n099 n100 n101")]
        [InlineData("rack[1-2]-n[1,3]", "rack1-n1 rack1-n3 rack2-n1 rack2-n3")]
        [InlineData("a[1]b, c", "a1b c")]
        public void ExpandsLikeScontrolShowHostnames(string list, string expected)
        {
            Assert.Equal(expected.Split(' '), SlurmNodeList.Expand(list));
        }

        [Theory]
        [InlineData("node[01-03")]
        [InlineData("node01-03]")]
        [InlineData("node[3-1]")]
        [InlineData("node[a-b]")]
        [InlineData("node[]")]
        [InlineData("a,,b")]
        [InlineData("")]
        public void RejectsMalformedLists(string list)
        {
            Assert.Throws<FormatException>(() => SlurmNodeList.Expand(list));
        }

        [Theory]
        [InlineData("4", new[] { 4 })]
        [InlineData("4(x2)", new[] { 4, 4 })]
        [InlineData("2(x3),1", new[] { 2, 2, 2, 1 })]
        [InlineData("1,3(x2)", new[] { 1, 3, 3 })]
        public void ExpandsTasksPerNode(string value, int[] expected)
        {
            Assert.Equal(expected, SlurmNodeList.ExpandTasksPerNode(value));
        }

        [Theory]
        [InlineData("4(2)")]
        [InlineData("4(x)")]
        [InlineData("x")]
        [InlineData("0")]
        [InlineData("4(x2")]
        public void RejectsMalformedTasksPerNode(string value)
        {
            Assert.Throws<FormatException>(() => SlurmNodeList.ExpandTasksPerNode(value));
        }
    }
}
