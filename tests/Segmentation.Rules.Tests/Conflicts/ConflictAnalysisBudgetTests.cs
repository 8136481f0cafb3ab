using Segmentation.Rules.Conflicts;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Tests.Conflicts;

public class ConflictAnalysisBudgetTests
{
    /// <summary>Five segments of one exclusive group (10 pairs: some conflicts, some disjoint) and one that never matches.</summary>
    private static Ruleset FiveInOneGroup(string policy = "priority") => Support.Rules.Load($"""
        {Support.Rules.Attributes}
        groups:
          g: {"{"} exclusive: true, on_conflict: {policy} {"}"}
        segments:
          a: {"{"} group: g, priority: 5, when: score > 10 {"}"}
          b: {"{"} group: g, priority: 4, when: score > 20 and email_opt_in {"}"}
          c: {"{"} group: g, priority: 3, when: score < 5 {"}"}
          d: {"{"} group: g, priority: 2, when: 'plan == "pro"' {"}"}
          e: {"{"} group: g, priority: 1, when: 'count(Purchased, 30d) >= 3 and count(Purchased, 90d) < 3' {"}"}
        """);

    private static bool Unanalysed(ConflictFinding finding) =>
        finding.Kind == FindingKind.Unknown && finding.Description == ConflictReport.BudgetExceededDescription;

    private static string Summary(ConflictFinding f) =>
        $"{f.Group} {f.Kind} {string.Join("/", f.Segments)}: {f.Description} {f.Witness?.At:O} {f.Witness?.Events.Count} {f.Winner}";

    /// <summary>A clock that moves only when told to.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => ticks;

        public void Advance(TimeSpan by) => ticks += by.Ticks;
    }

    [Fact]
    public void A_pair_budget_analyses_that_many_pairs_and_reports_every_other_one_as_unknown_budget_exceeded()
    {
        var ruleset = FiveInOneGroup();
        var complete = ConflictAnalyzer.Analyze(ruleset);
        var truncated = ConflictAnalyzer.Analyze(ruleset, new ConflictAnalysisBudget(maxPairs: 3));

        Assert.False(complete.BudgetExceeded);
        Assert.DoesNotContain(complete.Findings, Unanalysed);
        Assert.True(truncated.BudgetExceeded);
        Assert.Equal(7, truncated.Findings.Count(Unanalysed));
        Assert.All(truncated.Findings.Where(f => !Unanalysed(f)).Select(Summary), f => Assert.Contains(f, complete.Findings.Select(Summary)));

        // Every pair is still answered exactly once, analysed or not, and the segment check is not part of the budget.
        var pairKinds = new[] { FindingKind.Conflict, FindingKind.Disjoint, FindingKind.Unknown };
        Assert.Equal(10, truncated.Findings.Where(f => pairKinds.Contains(f.Kind)).Select(f => string.Join("/", f.Segments)).Distinct().Count());
        Assert.Equal(10, truncated.Findings.Count(f => pairKinds.Contains(f.Kind)));
        Assert.Contains(truncated.Findings, f => f.Kind == FindingKind.Unsatisfiable && f.Segments.SequenceEqual(["e"]));
        Assert.Equal(truncated.Findings.OrderBy(f => string.Join("\n", f.Segments), StringComparer.Ordinal).ThenBy(f => f.Kind), truncated.Findings);
    }

    [Fact]
    public void A_reject_group_with_unanalysed_pairs_is_not_accepted_even_without_a_conflict_found()
    {
        var ruleset = FiveInOneGroup("reject");
        Assert.False(ConflictAnalyzer.Analyze(ruleset).Accepted);

        var disjointOnly = ConflictAnalyzerTests.Pair("score > 10", "score < 5", "reject");
        Assert.True(ConflictAnalyzer.Analyze(disjointOnly).Accepted);
        var unfinished = ConflictAnalyzer.Analyze(disjointOnly, new ConflictAnalysisBudget(maxPairs: 0));
        Assert.True(unfinished.BudgetExceeded);
        Assert.Empty(unfinished.RejectedConflicts);
        Assert.Equal(["g"], unfinished.UnfinishedRejectingGroups);
        Assert.False(unfinished.Accepted);

        var priority = ConflictAnalyzer.Analyze(ConflictAnalyzerTests.Pair("score > 10", "score < 5"), new ConflictAnalysisBudget(maxPairs: 0));
        Assert.True(priority.BudgetExceeded);
        Assert.True(priority.Accepted);
    }

    [Fact]
    public void A_time_budget_reads_only_the_given_clock_and_stops_once_the_time_is_up()
    {
        var clock = new ManualClock();
        var budget = new ConflictAnalysisBudget(maxDuration: TimeSpan.FromSeconds(30), clock: clock,
            pairAnalysed: analysed => clock.Advance(analysed == 4 ? TimeSpan.FromMinutes(1) : TimeSpan.Zero));
        var report = ConflictAnalyzer.Analyze(FiveInOneGroup(), budget);
        Assert.True(report.BudgetExceeded);
        Assert.Equal(6, report.Findings.Count(Unanalysed));
    }

    /// <summary>One exclusive group of 70 segments (2,415 pairs: enough for several threads) of mixed, often overlapping conditions.</summary>
    private static Ruleset LargeGroup()
    {
        var random = new Random(7);
        string[] templates =
        [
            "score > {0}", "score >= {0} and score < {1}", "count(Purchased, 30d) >= {2}", "sum(Purchased.amount, 90d) >= {0} and email_opt_in",
            "days_since(last(Purchased)) > {2} or plan == \"pro\"", "not (score > {1} or plan == \"team\")",
        ];
        var segments = Enumerable.Range(0, 70).Select(i =>
        {
            var low = random.Next(0, 10) * 10;
            var condition = string.Format(System.Globalization.CultureInfo.InvariantCulture, templates[random.Next(templates.Length)], low, low + 30, random.Next(0, 4));
            return $"  s{i:D2}: {{ group: g, priority: {random.Next(0, 5)}, when: '{condition.Replace("'", "''", StringComparison.Ordinal)}' }}\n";
        });
        return Support.Rules.Load($"{Support.Rules.Attributes}\ngroups:\n  g: {{ exclusive: true }}\nsegments:\n{string.Concat(segments)}");
    }

    [Fact]
    public void A_group_analysed_on_several_threads_gives_the_reference_findings_and_spends_a_pair_budget_in_order()
    {
        var ruleset = LargeGroup();
        var complete = ConflictAnalyzer.Analyze(ruleset).Findings.Select(Summary).ToList();
        Assert.Equal(ConflictAnalyzer.AnalyzeWithoutShortcuts(ruleset).Findings.Select(Summary), complete);

        // The first 1,000 pairs in the order the group is walked (higher segment, then each lower one) are the ones analysed.
        var members = ruleset.Segments.OrderByDescending(s => s.Priority).ThenBy(s => s.Name, StringComparer.Ordinal).Select(s => s.Name).ToList();
        var walked = members.SelectMany((higher, i) => members.Skip(i + 1).Select(lower => string.Join("/", new[] { higher, lower }.Order(StringComparer.Ordinal)))).ToList();
        var truncated = ConflictAnalyzer.Analyze(ruleset, new ConflictAnalysisBudget(maxPairs: 1_000));
        Assert.Equal(walked.Skip(1_000).Order(StringComparer.Ordinal), truncated.Findings.Where(Unanalysed).Select(f => string.Join("/", f.Segments)).Order(StringComparer.Ordinal));
        Assert.All(truncated.Findings.Where(f => !Unanalysed(f)).Select(Summary), f => Assert.Contains(f, complete));
    }

    [Fact]
    public void Cancelling_a_group_analysed_on_several_threads_throws_operation_cancelled_once_the_pairs_in_hand_are_done()
    {
        using var cancellation = new CancellationTokenSource();
        var analysed = 0L;
        var gate = new Lock();
        var budget = new ConflictAnalysisBudget(pairAnalysed: n =>
        {
            lock (gate)
            {
                analysed = Math.Max(analysed, n);
            }

            if (n == 50)
            {
                cancellation.Cancel();
            }
        });
        Assert.ThrowsAny<OperationCanceledException>(() => ConflictAnalyzer.Analyze(LargeGroup(), budget, cancellation.Token));
        lock (gate)
        {
            Assert.InRange(analysed, 50, 50 + Environment.ProcessorCount);
        }
    }

    [Fact]
    public void A_time_budget_needs_a_clock()
    {
        Assert.Throws<ArgumentException>(() => new ConflictAnalysisBudget(maxDuration: TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConflictAnalysisBudget(maxPairs: -1));
    }

    [Fact]
    public void An_already_cancelled_token_throws_before_any_pair_is_analysed()
    {
        var analysed = 0L;
        var budget = new ConflictAnalysisBudget(pairAnalysed: n => analysed = n);
        Assert.ThrowsAny<OperationCanceledException>(() => ConflictAnalyzer.Analyze(FiveInOneGroup(), budget, new CancellationToken(canceled: true)));
        Assert.Equal(0, analysed);
    }

    [Fact]
    public void Cancelling_during_the_analysis_stops_it_before_the_next_pair()
    {
        using var cancellation = new CancellationTokenSource();
        var analysed = 0L;
        var budget = new ConflictAnalysisBudget(pairAnalysed: n =>
        {
            analysed = n;
            if (n == 3)
            {
                cancellation.Cancel();
            }
        });
        Assert.ThrowsAny<OperationCanceledException>(() => ConflictAnalyzer.Analyze(FiveInOneGroup(), budget, cancellation.Token));
        Assert.Equal(3, analysed);
    }
}
