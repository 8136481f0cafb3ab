using System.Text;
using BenchmarkDotNet.Attributes;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Benchmarks;

/// <summary>
/// Cost of applying one event to one customer. Segments are spread over event types so that one event touches about
/// thirty of them, as in a large ruleset where each rule reads a few event types.
/// </summary>
[MemoryDiagnoser]
public class SegmentEngineBenchmarks
{
    private const int SegmentsPerEventType = 30;
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private SegmentEngine engine = null!;
    private CustomerState state = null!;
    private int eventTypes;
    private long sequence;

    [Params(10, 100, 1_000, 10_000)]
    public int Segments { get; set; }

    [Params(true, false)]
    public bool Incremental { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        eventTypes = Math.Max(1, Segments / SegmentsPerEventType);
        var yaml = new StringBuilder("attributes:\n  plan: { enum: [free, pro, team] }\ngroups:\n  contact: { exclusive: true, cooldown: 24h }\nsegments:\n");
        for (var i = 0; i < Segments; i++)
        {
            var type = $"Event{i % eventTypes}";
            yaml.Append($"  s{i}:\n");
            if (i % 10 == 0)
            {
                yaml.Append($"    group: contact\n    priority: {i % 7}\n");
            }

            yaml.Append($"    when: count({type}, 1d) >= {i % 5} and sum({type}.amount, 2d) < {100 + i} or plan == \"team\"\n");
        }

        var loaded = RulesetLoader.Load(yaml.ToString(), "benchmark.yaml");
        engine = new SegmentEngine(loaded.Ruleset ?? throw new InvalidOperationException(string.Join("\n", loaded.Errors)), Incremental);
        state = new CustomerState { CustomerId = "c1" };
        engine.Apply(state, Next(), Start);
    }

    private CustomerEvent Next()
    {
        sequence++;
        return new CustomerEvent
        {
            EventId = sequence.ToString("D12", System.Globalization.CultureInfo.InvariantCulture),
            Type = $"Event{sequence % eventTypes}",
            OccurredAt = Start.AddMinutes(sequence * 10),
            Properties = new Dictionary<string, Value> { ["amount"] = Value.FromNumber(sequence % 40) },
        };
    }

    [Benchmark]
    public int ApplyOneEvent()
    {
        var e = Next();
        return engine.Apply(state, e, e.OccurredAt).Changes.Count;
    }
}
