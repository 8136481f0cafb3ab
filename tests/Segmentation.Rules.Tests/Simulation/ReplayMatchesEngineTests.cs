using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Simulation;
using Segmentation.Rules.Tests.Language;
using TestRules = Segmentation.Rules.Tests.Support.Rules;

namespace Segmentation.Rules.Tests.Simulation;

/// <summary>
/// The replay scope must be the engine's replay, observed: on random histories over the example ruleset its holders,
/// entries and exits equal what <see cref="SegmentEngine.Replay"/> produces customer by customer, and the report does
/// not depend on the number of workers.
/// </summary>
public sealed class ReplayMatchesEngineTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset End = Start.AddDays(120);
    private static readonly string[] Plans = ["free", "pro", "team"];

    private static readonly Lazy<Rulesets.Ruleset> Example = new(() =>
        TestRules.Load(File.ReadAllText(Path.Combine(RulesetLoaderTests.RepositoryRoot(), "infra", "examples", "ruleset.yaml"))));

    private static List<CustomerHistory> RandomHistories(int seed, int customers)
    {
        var random = new Random(seed);
        var histories = new List<CustomerHistory>();
        var id = 0;
        for (var c = 0; c < customers; c++)
        {
            var events = new List<CustomerEvent>();
            var at = Start.AddHours(random.Next(0, 24 * 20));
            events.Add(new CustomerEvent { EventId = $"e{id++:D6}", Type = "SignedUp", OccurredAt = at });
            for (var n = random.Next(0, 12); n > 0; n--)
            {
                at = at.AddHours(random.Next(1, 24 * 15));
                events.Add(random.Next(4) == 0
                    ? new CustomerEvent
                    {
                        EventId = $"e{id++:D6}", Type = "ProfileUpdated", OccurredAt = at,
                        Properties = new Dictionary<string, Value>
                        {
                            ["plan"] = Value.FromString(Plans[random.Next(3)]),
                            ["email_opt_in"] = Value.FromBool(random.Next(2) == 0),
                        },
                    }
                    : new CustomerEvent
                    {
                        EventId = $"e{id++:D6}", Type = "Purchased", OccurredAt = at,
                        Properties = new Dictionary<string, Value> { ["amount"] = Value.FromNumber(random.Next(10, 900)) },
                    });
            }

            histories.Add(new CustomerHistory($"cust{c:D4}", events));
        }

        return histories;
    }

    [Fact]
    public async Task Replay_holders_entries_and_exits_equal_the_engine_replay_of_each_customer()
    {
        var histories = RandomHistories(seed: 7, customers: 300);
        var engine = new SegmentEngine(Example.Value);
        var expected = Example.Value.Segments.ToDictionary(s => s.Name, _ => (Holders: 0L, Entries: 0L, Exits: 0L));
        foreach (var history in histories)
        {
            var result = engine.Replay(history.CustomerId, history.Events, End);
            foreach (var held in result.State.Held.Keys)
            {
                expected[held] = expected[held] with { Holders = expected[held].Holders + 1 };
            }

            foreach (var change in result.Changes)
            {
                expected[change.Segment] = change.Kind == MembershipChangeKind.Entered
                    ? expected[change.Segment] with { Entries = expected[change.Segment].Entries + 1 }
                    : expected[change.Segment] with { Exits = expected[change.Segment].Exits + 1 };
            }
        }

        var report = await RulesetSimulation.Simulate(Example.Value, null, new ReplayScope(histories.ToAsyncEnumerable(), Start, End));

        Assert.Equal(expected.Select(p => (p.Key, p.Value.Holders, p.Value.Entries, p.Value.Exits)),
            report.Segments.Select(s => (s.Segment, s.HoldersAtEnd, s.Entries, s.Exits)));
        Assert.Contains(report.Segments, s => s.Entries > 0 && s.Exits > 0);
        Assert.Contains(report.Segments, s => s.Blocked.Customers > 0);
    }

    [Fact]
    public async Task The_report_is_the_same_whatever_the_parallelism()
    {
        var histories = RandomHistories(seed: 11, customers: 500);
        var baseline = TestRules.Load(File.ReadAllText(Path.Combine(RulesetLoaderTests.RepositoryRoot(), "infra", "examples", "ruleset.yaml"))
            .Replace("priority: 20", "priority: 1", StringComparison.Ordinal));
        var reports = new List<string>();
        foreach (var parallelism in new[] { 1, 2, 4 })
        {
            var report = await RulesetSimulation.Simulate(Example.Value, baseline, new ReplayScope(histories.ToAsyncEnumerable(), Start, End),
                new SimulationOptions { Parallelism = parallelism, ExampleCustomers = 5 });
            reports.Add(report.ToJson());
        }

        Assert.Equal(reports[0], reports[1]);
        Assert.Equal(reports[0], reports[2]);
        Assert.Contains("\"wouldEnter\": {\n        \"count\": ", reports[0].Replace("\r", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_input_stream_fails_the_simulation_with_its_own_error()
    {
        static async IAsyncEnumerable<CustomerHistory> Broken()
        {
            yield return new CustomerHistory("a", []);
            await Task.Yield();
            throw new InvalidDataException("row 2 is corrupt");
        }

        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            RulesetSimulation.Simulate(Example.Value, null, new ReplayScope(Broken(), Start, End)));
        Assert.Equal("row 2 is corrupt", error.Message);
    }
}
