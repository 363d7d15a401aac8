using System.Collections.Generic;
using XTuner.Training.Engine;
using Xunit;

namespace XTuner.Training.Tests.Engine
{
    public sealed class StepPhasesTests
    {
        /// <summary>A clock that is at whatever time the test says: each mark reads <see cref="Now"/>.</summary>
        private sealed class ManualClock : IPhaseClock
        {
            private readonly List<double> _marks = new List<double>();

            public double Now { get; set; }

            /// <summary>Marks taken since the clock was made.</summary>
            public int Marks { get; private set; }

            public void Reset() => _marks.Clear();

            public int Mark()
            {
                Marks++;
                _marks.Add(Now);
                return _marks.Count - 1;
            }

            public void WaitFor(int mark)
            {
            }

            public double SecondsBetween(int first, int second) => _marks[second] - _marks[first];

            public void Dispose()
            {
            }
        }

        [Fact]
        public void EachStretchOfTimeBelongsToTheInnermostOpenPhaseAndTheStepsPhasesSumToItsTime()
        {
            var clock = new ManualClock();
            using var phases = new StepPhases(clock);
            phases.BeginStep();
            clock.Now = 1;
            using (phases.Open(StepPhases.Forward))
            {
                clock.Now = 3;
                using (phases.Open(StepPhases.Matmul)) clock.Now = 7;
                clock.Now = 8;
            }
            clock.Now = 10;
            using (phases.Open(StepPhases.Backward))
            {
                using (phases.Open(StepPhases.Recompute))
                {
                    using (phases.Open(StepPhases.Attention)) clock.Now = 14;
                    clock.Now = 15;
                }
                clock.Now = 20;
            }
            clock.Now = 21;
            var seconds = phases.EndStep();

            Assert.Equal(new Dictionary<string, double>
            {
                ["other"] = 1 + 2 + 1, ["forward"] = 2 + 1, ["forward/matmul"] = 4,
                ["backward"] = 5, ["backward/recompute"] = 1, ["backward/recompute/attention"] = 4,
            }, seconds);
        }

        [Fact]
        public void APhaseOutsideAStepBeforeOrBetweenStepsRecordsNothingAndANewStepStartsAfresh()
        {
            var clock = new ManualClock();
            using var phases = new StepPhases(clock);
            using (phases.Open(StepPhases.Forward)) clock.Now = 5;
            phases.BeginStep();
            using (phases.Open(StepPhases.Optimizer)) clock.Now = 7;
            Assert.Equal(new Dictionary<string, double> { ["other"] = 0, ["optimizer"] = 2 }, phases.EndStep());
            // Between steps (a checkpoint, evaluation) a phase takes no mark.
            int marks = clock.Marks;
            using (phases.Open(StepPhases.Forward)) clock.Now = 7.5;
            Assert.Equal(marks, clock.Marks);
            phases.BeginStep();
            clock.Now = 8;
            Assert.Equal(new Dictionary<string, double> { ["other"] = 0.5 }, phases.EndStep());
        }
    }
}
