using System.Linq;
using System.Reflection;
using XTuner.Core;
using XTuner.Core.Configuration;
using Xunit;

namespace XTuner.Core.Tests
{
    public sealed class ErrorIdsTests
    {
        private static string[] AllIds() => typeof(ErrorIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToArray();

        [Fact]
        public void Every_id_has_a_kind_of_failure()
        {
            var unmapped = AllIds().Where(id => ErrorIds.KindOf(id) == ErrorKind.NotSpecified).ToList();
            Assert.Empty(unmapped);
        }

        [Fact]
        public void Ids_are_unique_and_start_with_XTuner()
        {
            var ids = AllIds();
            Assert.Equal(ids.Length, ids.Distinct().Count());
            Assert.All(ids, id => Assert.StartsWith("XTuner", id));
        }

        [Fact]
        public void A_config_failure_is_an_XTuner_failure_under_the_id_of_its_first_error()
        {
            XTunerException e = new XTunerConfigException(new[]
            {
                new ConfigFinding(FindingSeverity.Warning, "lr", "high"),
                new ConfigFinding(FindingSeverity.Error, "max_length", "too long", ErrorIds.SequenceTooLong),
                new ConfigFinding(FindingSeverity.Error, "name", "missing", ErrorIds.InvalidConfigValue),
            });
            Assert.Equal(ErrorIds.SequenceTooLong, e.ErrorId);
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
            Assert.Contains("too long", e.Message);
            Assert.DoesNotContain("high", e.Message);
        }

        [Fact]
        public void An_unknown_id_is_of_no_particular_kind()
        {
            Assert.Equal(ErrorKind.NotSpecified, new XTunerException("XTunerSomethingElse", "m").Kind);
            Assert.Equal(ErrorKind.ObjectNotFound, new XTunerException(ErrorIds.RunNotFound, "m").Kind);
        }
    }
}
