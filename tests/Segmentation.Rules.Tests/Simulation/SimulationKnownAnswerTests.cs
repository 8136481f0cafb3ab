using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;
using Segmentation.Rules.Simulation;
using TestRules = Segmentation.Rules.Tests.Support.Rules;

namespace Segmentation.Rules.Tests.Simulation;

/// <summary>
/// Every figure of the report on a handcrafted history whose outcome is worked out by hand in the comments.
/// Windows are one day and the contact cooldown two days, so entries, time-triggered exits, a block by the holder
/// and a block by the cooldown all happen within five days.
/// </summary>
public sealed class SimulationKnownAnswerTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset End = new(2025, 1, 5, 0, 0, 0, TimeSpan.Zero);

    internal static readonly Ruleset Candidate = TestRules.Load("""
        attributes:
          plan: { enum: [free, pro, team] }
        groups:
          contact: { exclusive: true, cooldown: 48h }
        segments:
          big:
            group: contact
            priority: 20
            channel: email
            when: sum(Purchased.amount, 1d) >= 100
          buyer:
            group: contact
            priority: 10
            channel: sms
            when: count(Purchased, 1d) >= 1
          team:
            when: plan == "team"
        """);

    internal static readonly Ruleset Baseline = TestRules.Load("""
        attributes:
          plan: { enum: [free, pro, team] }
        segments:
          buyer:
            channel: sms
            when: count(Purchased, 7d) >= 1
          legacy:
            when: plan == "team"
        """);

    /// <summary>
    /// a: spends 150 at T0: big enters (buyer blocked by big, both qualify), both leave the window at T0+1d: big exits.
    /// b: spends 50 at T0: buyer enters; 60 more at T0+2h: big qualifies, blocked by buyer (never pre-empted);
    ///    at T0+1d the sum drops to 60, at T0+1d+2h buyer exits.
    /// c: spends 20 at T0: buyer enters; becomes team at T0+1h: team enters; buyer exits at T0+1d; spends 30 at T0+25h:
    ///    buyer qualifies but the cooldown runs to T0+48h (blocked: cooldown); enters at T0+48h, exits at T0+49h.
    /// </summary>
    internal static CustomerHistory[] Histories() =>
    [
        new("a", [Purchase("a1", T0, 150)]),
        new("b", [Purchase("b1", T0, 50), Purchase("b2", T0.AddHours(2), 60)]),
        new("c",
        [
            Purchase("c1", T0, 20),
            new CustomerEvent
            {
                EventId = "c2", Type = "ProfileUpdated", OccurredAt = T0.AddHours(1),
                Properties = new Dictionary<string, Value> { ["plan"] = Value.FromString("team") },
            },
            Purchase("c3", T0.AddHours(25), 30),
        ]),
    ];

    private static CustomerEvent Purchase(string id, DateTimeOffset at, double amount) => new()
    {
        EventId = id, Type = "Purchased", OccurredAt = at, Properties = new Dictionary<string, Value> { ["amount"] = Value.FromNumber(amount) },
    };

    private static Task<SimulationReport> Replay(DateTimeOffset from, Ruleset? baseline = null, int parallelism = 2) =>
        RulesetSimulation.Simulate(Candidate, baseline, new ReplayScope(Histories().ToAsyncEnumerable(), from, End),
            new SimulationOptions { Parallelism = parallelism });

    private static SegmentReport Segment(SimulationReport report, string name) => report.Segments.Single(s => s.Segment == name);

    private static Dictionary<string, long> Days(params (string Day, long Count)[] days) => days.ToDictionary(d => d.Day, d => d.Count);

    [Fact]
    public async Task Replay_counts_entries_exits_holders_and_days_per_segment()
    {
        var report = await Replay(Start);

        Assert.Equal(("replay", Start, End, 5, 3L), (report.Scope, report.From, report.To, report.Days, report.Customers));
        Assert.Equal(["big", "buyer", "team"], report.Segments.Select(s => s.Segment));

        var big = Segment(report, "big");
        Assert.Equal((1L, 1L, 0L), (big.Entries, big.Exits, big.HoldersAtEnd));
        Assert.Equal(Days(("2025-01-01", 1)), big.EntriesPerDay);
        Assert.Equal(Days(("2025-01-02", 1)), big.ExitsPerDay);

        var buyer = Segment(report, "buyer");
        Assert.Equal((3L, 3L, 0L), (buyer.Entries, buyer.Exits, buyer.HoldersAtEnd));
        Assert.Equal(Days(("2025-01-01", 2), ("2025-01-03", 1)), buyer.EntriesPerDay);
        Assert.Equal(Days(("2025-01-02", 2), ("2025-01-03", 1)), buyer.ExitsPerDay);

        var team = Segment(report, "team");
        Assert.Equal((1L, 0L, 1L, "team", (string?)null), (team.Entries, team.Exits, team.HoldersAtEnd, team.Segment, team.Group));
        Assert.Null(team.Baseline);
        Assert.Null(team.WouldEnter);
    }

    [Fact]
    public async Task Replay_counts_customers_blocked_by_the_holder_and_by_the_cooldown()
    {
        var report = await Replay(Start);

        Assert.Equal(new BlockedReport(1, new Dictionary<string, long> { ["buyer"] = 1 }, 0), Segment(report, "big").Blocked, BlockedEquality);
        Assert.Equal(new BlockedReport(2, new Dictionary<string, long> { ["big"] = 1 }, 1), Segment(report, "buyer").Blocked, BlockedEquality);
        Assert.Equal(new BlockedReport(0, new Dictionary<string, long>(), 0), Segment(report, "team").Blocked, BlockedEquality);
    }

    [Fact]
    public async Task Replay_reports_contacts_per_customer_per_day_and_overlaps_per_exclusive_group()
    {
        var report = await Replay(Start);

        var contact = Assert.Single(report.Groups);
        Assert.Equal("contact", contact.Group);
        // a 1 (big), b 1 (buyer), c 2 (buyer twice): nearest-rank median 1, p95 2.
        Assert.Equal(new ContactDistribution(Customers: 3, Contacted: 3, Total: 4, Median: 1, P95: 2, Max: 2), contact.ContactsPerCustomer);
        Assert.Equal(Days(("2025-01-01", 3), ("2025-01-03", 1)), contact.ContactsPerDay);
        var overlap = Assert.Single(contact.Overlaps);
        Assert.Equal(["big", "buyer"], overlap.Segments);
        Assert.Equal((2L, "a,b"), (overlap.Customers, string.Join(",", overlap.Examples)));
    }

    [Fact]
    public async Task Replay_counts_messages_per_channel_and_day_for_candidate_and_baseline()
    {
        var report = await Replay(Start, Baseline);

        Assert.Equal(["email", "sms"], report.Messages.Select(m => m.Channel));
        var email = report.Messages[0];
        Assert.Equal((1L, 0L), (email.Total, email.BaselineTotal!.Value));
        Assert.Equal(Days(("2025-01-01", 1)), email.PerDay);
        Assert.Empty(email.BaselinePerDay!);
        var sms = report.Messages[1];
        Assert.Equal((3L, 3L), (sms.Total, sms.BaselineTotal!.Value));
        Assert.Equal(Days(("2025-01-01", 2), ("2025-01-03", 1)), sms.PerDay);
        Assert.Equal(Days(("2025-01-01", 3)), sms.BaselinePerDay!);
    }

    [Fact]
    public async Task Replay_diffs_holders_at_the_end_against_the_baseline_replayed_the_same_way()
    {
        var report = await Replay(Start, Baseline);

        // Baseline (7-day window, no group): a, b and c hold buyer at the end, c holds legacy.
        Assert.Equal(["big", "buyer", "team", "legacy"], report.Segments.Select(s => s.Segment));
        var buyer = Segment(report, "buyer");
        Assert.Equal(new BaselineSegmentReport("sms", 3, 0, 3, Days(("2025-01-01", 3))), buyer.Baseline, BaselineEquality);
        Assert.Equal((0L, 3L), (buyer.WouldEnter!.Count, buyer.WouldLeave!.Count));
        Assert.Equal(["a", "b", "c"], buyer.WouldLeave.Customers);

        var team = Segment(report, "team");
        Assert.Equal((true, false, 1L, "c"), (team.InCandidate, team.InBaseline, team.WouldEnter!.Count, string.Join(",", team.WouldEnter.Customers)));

        var legacy = Segment(report, "legacy");
        Assert.Equal((false, true, 0L, 1L), (legacy.InCandidate, legacy.InBaseline, legacy.Entries, legacy.Baseline!.HoldersAtEnd));
        Assert.Equal(["c"], legacy.WouldLeave!.Customers);
        Assert.Equal(0, Segment(report, "big").WouldEnter!.Count + Segment(report, "big").WouldLeave!.Count);
    }

    [Fact]
    public async Task Replay_from_a_later_instant_counts_only_what_happens_from_then()
    {
        var report = await Replay(new DateTimeOffset(2025, 1, 2, 0, 0, 0, TimeSpan.Zero));

        Assert.Equal(4, report.Days);
        Assert.Equal((0L, 1L), (Segment(report, "big").Entries, Segment(report, "big").Exits));
        Assert.Equal((1L, 3L), (Segment(report, "buyer").Entries, Segment(report, "buyer").Exits));
        Assert.Equal((0L, 1L), (Segment(report, "team").Entries, Segment(report, "team").HoldersAtEnd));
        // Only c's cooldown block (2025-01-02 11:00) falls in the period; the blocks and overlaps of 2025-01-01 do not.
        Assert.Equal((0L, 1L, 1L), (Segment(report, "big").Blocked.Customers, Segment(report, "buyer").Blocked.Customers, Segment(report, "buyer").Blocked.Cooldown));
        var contact = Assert.Single(report.Groups);
        Assert.Empty(contact.Overlaps);
        Assert.Equal(new ContactDistribution(3, 1, 1, 0, 1, 1), contact.ContactsPerCustomer);
    }

    [Fact]
    public async Task Snapshot_evaluates_the_candidate_on_current_profiles_as_an_activation_would()
    {
        // Profiles as the live service holds them at 12:00 under the baseline: a, b, c hold buyer, c holds legacy.
        var at = T0.AddHours(2);
        var engine = new SegmentEngine(Baseline);
        var profiles = Histories().Select(h => engine.Replay(h.CustomerId, h.Events, at).State).ToList();
        var before = profiles.Select(p => p.Clone()).ToList();

        // The baseline's profiles keep only what it reads; the candidate reads more, so they are refolded from the histories.
        Assert.All(profiles, p => Assert.False(new SegmentEngine(Candidate).Covers(p)));
        var histories = Histories().ToDictionary(h => h.CustomerId, h => h.Events);
        var report = await RulesetSimulation.Simulate(Candidate, Baseline,
            new SnapshotScope(profiles.ToAsyncEnumerable(), at, (id, _) => Task.FromResult(histories[id])));

        Assert.Equal(("snapshot", at, at, 1, 3L), (report.Scope, report.From, report.To, report.Days, report.Customers));
        Assert.Equal(new EvaluationCounts(3, 3), report.Evaluations);
        // buyer keeps its slot (a held segment is never pre-empted), so big is blocked by it for a and b.
        var big = Segment(report, "big");
        Assert.Equal((0L, 0L, 2L), (big.Entries, big.HoldersAtEnd, big.Blocked.Customers));
        Assert.Equal(new Dictionary<string, long> { ["buyer"] = 2 }, big.Blocked.HeldBy);
        Assert.Equal((0L, 0L, 3L, 0L), (Segment(report, "buyer").Entries, Segment(report, "buyer").Exits, Segment(report, "buyer").HoldersAtEnd, Segment(report, "buyer").WouldLeave!.Count));
        var team = Segment(report, "team");
        Assert.Equal((1L, 1L, "c"), (team.Entries, team.HoldersAtEnd, string.Join(",", team.WouldEnter!.Customers)));
        Assert.Equal(Days(("2025-01-01", 1)), team.EntriesPerDay);
        // The candidate has no legacy: an activation takes c out of it.
        var legacy = Segment(report, "legacy");
        Assert.Equal((1L, 0L, 1L, "c"), (legacy.Exits, legacy.HoldersAtEnd, legacy.Baseline!.HoldersAtEnd, string.Join(",", legacy.WouldLeave!.Customers)));
        var contact = Assert.Single(report.Groups);
        Assert.Equal(new ContactDistribution(3, 0, 0, 0, 0, 0), contact.ContactsPerCustomer);
        Assert.Equal(2, Assert.Single(contact.Overlaps).Customers);
        Assert.All(report.Messages, m => Assert.Equal(0, m.Total));
        // The profiles handed in are left as they were.
        Assert.Equal(before.Select(p => (p.Held.Count, p.RulesetFingerprint)), profiles.Select(p => (p.Held.Count, p.RulesetFingerprint)));
    }

    [Fact]
    public async Task Diff_lists_count_every_customer_and_keep_the_smallest_ids_up_to_the_cap()
    {
        // Each spends 5 at T0: the candidate's buyer (1-day window) is over by the end, the baseline's (7 days) is not.
        var histories = Enumerable.Range(0, 50).Reverse().Select(i => new CustomerHistory($"c{i:D2}", [Purchase($"e{i}", T0, 5)]));
        var report = await RulesetSimulation.Simulate(Candidate, Baseline, new ReplayScope(histories.ToAsyncEnumerable(), Start, End),
            new SimulationOptions { ExampleCustomers = 3, Parallelism = 3 });

        var leaving = Segment(report, "buyer").WouldLeave!;
        Assert.Equal(50, leaving.Count);
        Assert.Equal(["c00", "c01", "c02"], leaving.Customers);
    }

    private static readonly IEqualityComparer<BlockedReport> BlockedEquality = EqualityComparer<BlockedReport>.Create(
        (x, y) => x!.Customers == y!.Customers && x.Cooldown == y.Cooldown && x.HeldBy.OrderBy(p => p.Key).SequenceEqual(y.HeldBy.OrderBy(p => p.Key)));

    private static readonly IEqualityComparer<BaselineSegmentReport?> BaselineEquality = EqualityComparer<BaselineSegmentReport?>.Create(
        (x, y) => x is not null && y is not null && x.Channel == y.Channel && x.Entries == y.Entries && x.Exits == y.Exits
            && x.HoldersAtEnd == y.HoldersAtEnd && x.EntriesPerDay.OrderBy(p => p.Key).SequenceEqual(y.EntriesPerDay.OrderBy(p => p.Key)));
}
