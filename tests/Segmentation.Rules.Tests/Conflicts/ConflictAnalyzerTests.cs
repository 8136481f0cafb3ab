using Segmentation.Rules.Conflicts;
using Segmentation.Rules.Rulesets;
using Segmentation.Rules.Tests.Language;

namespace Segmentation.Rules.Tests.Conflicts;

public class ConflictAnalyzerTests
{
    /// <summary>A ruleset with the standard attributes and an exclusive group g holding a (priority 2) and b (priority 1).</summary>
    internal static Ruleset Pair(string a, string b, string policy = "priority") => Support.Rules.Load($"""
        {Support.Rules.Attributes}
        groups:
          g: {"{"} exclusive: true, on_conflict: {policy} {"}"}
        segments:
          a:
            group: g
            priority: 2
            when: '{a.Replace("'", "''", StringComparison.Ordinal)}'
          b:
            group: g
            priority: 1
            when: '{b.Replace("'", "''", StringComparison.Ordinal)}'
        """);

    private static ConflictFinding Verdict(string a, string b)
    {
        var ruleset = Pair(a, b);
        var report = ConflictAnalyzer.Analyze(ruleset);
        var finding = Assert.Single(report.Findings, f => f.Kind is FindingKind.Conflict or FindingKind.Disjoint or FindingKind.Unknown);
        if (finding.Witness is { } witness)
        {
            // Independently of the analyser: the engine, replaying the witness, finds both conditions true.
            Assert.True(WitnessConfirms(ruleset, witness), finding.Description);
        }

        return finding;
    }

    internal static bool WitnessConfirms(Ruleset ruleset, ConflictWitness witness)
    {
        var engine = new Segmentation.Rules.Membership.SegmentEngine(ruleset);
        var state = engine.Replay(ConflictWitness.CustomerId, witness.Events, witness.At).State;
        return ruleset.Segments.Where(s => s.Group is not null).All(s => engine.Explain(state, s.Name, witness.At).ConditionHolds);
    }

    private static void Conflict(string a, string b) => Assert.Equal(FindingKind.Conflict, Verdict(a, b).Kind);

    private static void Disjoint(string a, string b) => Assert.Equal(FindingKind.Disjoint, Verdict(a, b).Kind);

    [Theory]
    [InlineData("score >= 10 and score < 20", "score > 15")]
    [InlineData("sum(Purchased.amount, 90d) >= 500", "sum(Purchased.amount, 90d) <= 500")]
    [InlineData("count(Purchased, 30d) >= 3", "count(Purchased, 90d) >= 5")]
    [InlineData("count(Purchased) > 2", "count(Purchased, 7d) == 0")]
    [InlineData("min(Purchased.amount, 30d) < 10", "max(Purchased.amount, 30d) > 100")]
    [InlineData("avg(Purchased.amount) >= 50", "sum(Purchased.amount) < 100")]
    public void Overlapping_numeric_ranges_conflict(string a, string b) => Conflict(a, b);

    [Theory]
    [InlineData("score >= 10 and score < 20", "score >= 20")]
    [InlineData("sum(Purchased.amount, 90d) >= 500", "sum(Purchased.amount, 90d) < 500")]
    [InlineData("count(Purchased, 30d) >= 3", "count(Purchased, 90d) < 3")]
    [InlineData("count(Purchased, 30d) > 0", "last(Purchased) is null")]
    [InlineData("min(Purchased.amount, 30d) > 100", "max(Purchased.amount, 30d) < 50")]
    [InlineData("avg(Purchased.amount) > 100", "max(Purchased.amount) < 100")]
    [InlineData("sum(Purchased.amount, 30d) > 0", "count(Purchased) == 0")]
    [InlineData("count(Purchased where amount >= 100, 30d) >= 2", "count(Purchased, 30d) < 2")]
    public void Disjoint_numeric_ranges_are_proven_disjoint(string a, string b) => Disjoint(a, b);

    [Fact]
    public void Touching_boundaries_are_disjoint_when_open_and_conflict_at_exactly_the_boundary_when_closed()
    {
        Disjoint("sum(Purchased.amount, 90d) >= 500", "sum(Purchased.amount, 90d) < 500");
        var touching = Verdict("sum(Purchased.amount, 90d) >= 500", "sum(Purchased.amount, 90d) <= 500");
        Assert.Equal(FindingKind.Conflict, touching.Kind);
        var amounts = touching.Witness!.Events.Where(e => e.Type == "Purchased").Sum(e => e.Properties["amount"].AsNumber);
        Assert.Equal(500, amounts);
    }

    [Theory]
    [InlineData("plan == \"pro\"", "plan in [\"pro\", \"team\"]", true)]
    [InlineData("plan == \"pro\"", "plan != \"pro\"", false)]
    [InlineData("plan in [\"free\", \"pro\"]", "plan not in [\"free\", \"pro\"]", false)]
    [InlineData("plan not in [\"free\", \"pro\", \"team\"]", "plan is not null", true)]
    [InlineData("country == \"NL\" and plan == \"team\"", "country in [\"NL\", \"BE\"]", true)]
    [InlineData("country == \"NL\"", "country == \"BE\"", false)]
    [InlineData("email_opt_in", "not email_opt_in", false)]
    [InlineData("email_opt_in == true", "email_opt_in != false", true)]
    public void Enum_string_and_bool_sets(string a, string b, bool conflict) => Assert.Equal(conflict ? FindingKind.Conflict : FindingKind.Disjoint, Verdict(a, b).Kind);

    [Theory]
    [InlineData("score is null", "score > 3", false)]
    [InlineData("score is null", "not (score > 3)", true)]
    [InlineData("plan is null", "plan != \"pro\"", false)]
    [InlineData("plan is null", "not (plan == \"pro\")", true)]
    [InlineData("first(SignedUp) is null", "days_since(first(SignedUp)) >= 0", false)]
    [InlineData("min(Purchased.amount) is null", "count(Purchased) >= 1", true)]
    [InlineData("min(Purchased.amount, 30d) is null", "sum(Purchased.amount, 30d) > 0", false)]
    [InlineData("birthday is not null", "birthday is null", false)]
    public void Null_tests(string a, string b, bool conflict) => Assert.Equal(conflict ? FindingKind.Conflict : FindingKind.Disjoint, Verdict(a, b).Kind);

    [Theory]
    [InlineData("days_since(first(SignedUp)) < 5", "days_since(last(SignedUp)) > 10", false)]
    [InlineData("days_since(first(SignedUp)) > 10", "days_since(last(SignedUp)) < 5", true)]
    [InlineData("days_since(last(Purchased)) > 60", "count(Purchased, 30d) >= 1", false)]
    [InlineData("days_since(last(Purchased)) > 60", "sum(Purchased.amount, 90d) >= 500", true)]
    [InlineData("days_since(last(Purchased)) >= 30", "count(Purchased, 30d) > 0", false)]
    [InlineData("days_since(last(Purchased)) == 29", "count(Purchased, 30d) > 0", true)]
    [InlineData("hours_since(last(Purchased)) < 24", "days_since(last(Purchased)) >= 1", false)]
    [InlineData("hours_since(last(Purchased)) < 25", "days_since(last(Purchased)) >= 1", true)]
    [InlineData("last(Purchased) > now - 7d", "count(Purchased, 7d) == 0", false)]
    [InlineData("first(Purchased) < now - 30d", "count(Purchased, 30d) == count(Purchased)", false)]
    [InlineData("birthday < 2000-01-01T00:00:00Z", "birthday >= 2000-01-01T00:00:00Z", false)]
    [InlineData("birthday <= 2000-01-01T00:00:00Z", "birthday >= 2000-01-01T00:00:00Z", true)]
    public void Days_since_and_window_relations(string a, string b, bool conflict) => Assert.Equal(conflict ? FindingKind.Conflict : FindingKind.Disjoint, Verdict(a, b).Kind);

    [Theory]
    [InlineData("not (score > 5 or plan == \"pro\")", "score > 5", false)]
    [InlineData("not (score > 5 or plan == \"pro\")", "plan == \"pro\"", false)]
    [InlineData("not (score > 5 or plan == \"pro\")", "score is null and plan == \"team\"", true)]
    [InlineData("not (score > 5 and score < 10)", "score == 7", false)]
    [InlineData("not (score > 5 and score < 10)", "score == 10", true)]
    [InlineData("(score < 0 or score > 100) and email_opt_in", "score >= 0 and score <= 100", false)]
    [InlineData("not not (count(Purchased) == 0)", "count(Purchased) > 0", false)]
    [InlineData("score != 5", "score >= 5 and score <= 5", false)]
    [InlineData("count(Purchased) != 1", "count(Purchased) >= 1 and count(Purchased) < 2", false)]
    [InlineData("days_since(first(SignedUp)) not in [1, 2, 3]", "days_since(first(SignedUp)) in [2, 3]", false)]
    [InlineData("days_since(first(SignedUp)) not in [1, 2, 3]", "days_since(first(SignedUp)) in [3, 4]", true)]
    public void Or_and_not_nesting(string a, string b, bool conflict) => Assert.Equal(conflict ? FindingKind.Conflict : FindingKind.Disjoint, Verdict(a, b).Kind);

    [Theory]
    [InlineData("score * 2 > 10", "score < 3")]
    [InlineData("sum(Purchased.amount) > count(Purchased)", "score < 3")]
    public void Constructs_outside_the_analysis_are_unknown_with_the_reason_unless_a_witness_is_found(string a, string b)
    {
        var finding = Verdict(a, b);
        Assert.NotEqual(FindingKind.Disjoint, finding.Kind);
    }

    [Fact]
    public void A_proof_that_ignores_an_unanalysed_construct_still_shows_disjointness()
    {
        Disjoint("score * 2 > 10 and count(Purchased) > 3", "count(Purchased) < 2");
    }

    [Fact]
    public void Unanalysed_construct_with_no_witness_is_unknown_and_says_why()
    {
        var finding = Verdict("score * 2 > 10 and score < 5", "score * 3 < 9 and score > 4");
        Assert.Equal(FindingKind.Unknown, finding.Kind);
        Assert.Contains("arithmetic on numbers", finding.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Filters_make_separate_streams_related_to_the_unfiltered_one()
    {
        Conflict("count(Purchased where amount >= 100, 30d) >= 2", "count(Purchased where amount < 100, 30d) >= 1");
        Conflict("count(Purchased where amount >= 100, 30d) >= 1", "count(Purchased, 30d) == 1 and count(Purchased) == 3");
        Disjoint("count(Purchased where amount >= 100) >= 1", "count(Purchased) == 0");
    }

    [Fact]
    public void Example_ruleset_reports_the_deliberate_conflict_with_a_confirmed_witness_and_who_wins()
    {
        var ruleset = Support.Rules.Load(File.ReadAllText(Path.Combine(RulesetLoaderTests.RepositoryRoot(), "infra", "examples", "ruleset.yaml")));
        var report = ConflictAnalyzer.Analyze(ruleset);
        var conflict = Assert.Single(report.Findings, f => f.Kind == FindingKind.Conflict && f.Segments.SequenceEqual(["big_spender", "win_back"]));
        Assert.Equal("big_spender", conflict.Winner);
        Assert.Contains("sum(Purchased.amount, 90d) >= 500", conflict.Description, StringComparison.Ordinal);
        SegmentRule[] pair = [.. ruleset.Segments.Where(s => s.Name is "big_spender" or "win_back")];
        Assert.True(new WitnessBuilder(ruleset, pair).Confirms(pair, conflict.Witness!.Events, conflict.Witness.At));
        Assert.True(report.Accepted);
    }

    [Fact]
    public void Reject_policy_fails_the_report_and_priority_names_the_winner()
    {
        var rejected = ConflictAnalyzer.Analyze(Pair("score > 1", "score > 2", "reject"));
        Assert.False(rejected.Accepted);
        Assert.Null(Assert.Single(rejected.RejectedConflicts).Winner);

        var tie = Support.Rules.Load($"""
            {Support.Rules.Attributes}
            groups:
              g: {"{"} exclusive: true {"}"}
            segments:
              zed:
                group: g
                when: score > 1
              alpha:
                group: g
                when: score > 2
            """);
        var report = ConflictAnalyzer.Analyze(tie);
        Assert.True(report.Accepted);
        Assert.Equal("alpha", Assert.Single(report.Findings, f => f.Kind == FindingKind.Conflict).Winner);
    }

    [Fact]
    public void Unsatisfiable_shadowed_and_duplicate_segments_are_reported()
    {
        var ruleset = Support.Rules.Load($"""
            {Support.Rules.Attributes}
            groups:
              g: {"{"} exclusive: true {"}"}
            segments:
              never:
                group: g
                priority: 9
                when: count(Purchased, 30d) >= 3 and count(Purchased, 90d) < 3
              broad:
                group: g
                priority: 5
                when: score > 10
              narrow:
                group: g
                priority: 1
                when: score > 20 and email_opt_in
              same:
                group: g
                priority: 5
                when: not (score <= 10 or score is null)
              loose:
                when: score > 1 and score < 1
            """);
        var findings = ConflictAnalyzer.Analyze(ruleset).Findings;
        Assert.Contains(findings, f => f.Kind == FindingKind.Unsatisfiable && f.Segments.SequenceEqual(["never"]) && f.Group == "g");
        Assert.Contains(findings, f => f.Kind == FindingKind.Unsatisfiable && f.Segments.SequenceEqual(["loose"]) && f.Group == null);
        Assert.Contains(findings, f => f.Kind == FindingKind.Shadowed && f.Segments.SequenceEqual(["broad", "narrow"]));
        Assert.Contains(findings, f => f.Kind == FindingKind.Duplicate && f.Segments.SequenceEqual(["broad", "same"]));
        Assert.DoesNotContain(findings, f => f.Kind == FindingKind.Shadowed && f.Segments.Contains("never"));
        Assert.All(findings.Where(f => f.Segments.Contains("never") && f.Segments.Count == 2), f => Assert.Equal(FindingKind.Disjoint, f.Kind));
    }

    [Fact]
    public void Findings_are_ordered_by_their_segment_names_joined_by_line_breaks()
    {
        // Names that are prefixes of one another, and names with characters at or below a line break, where comparing the
        // names one by one and comparing them joined differ unless done with care.
        var loaded = Support.Rules.Load($"""
            {Support.Rules.Attributes}
            groups:
              g: {"{"} exclusive: true {"}"}
              h: {"{"} exclusive: true {"}"}
            segments:
              s1: {"{"} group: g, priority: 1, when: score > 1 {"}"}
              s2: {"{"} group: g, priority: 2, when: score > 2 {"}"}
              s3: {"{"} group: g, priority: 3, when: score < 3 {"}"}
              s4: {"{"} group: g, priority: 4, when: score > 4 {"}"}
              s5: {"{"} group: g, priority: 5, when: score > 5 and score < 5 {"}"}
              s6: {"{"} group: h, priority: 1, when: score > 1 {"}"}
              s7: {"{"} group: h, priority: 2, when: score > 2 {"}"}
            """);
        string[] names = ["a", "a\nb", "ab", "a\u0001", "c", "a", "a\tb"];
        var ruleset = loaded with { Segments = [.. loaded.Segments.Select((s, i) => s with { Name = names[i] + (s.Group == "h" ? "x" : string.Empty) })] };
        var findings = ConflictAnalyzer.Analyze(ruleset).Findings;
        var expected = findings
            .OrderBy(f => f.Group ?? string.Empty, StringComparer.Ordinal)
            .ThenBy(f => string.Join("\n", f.Segments), StringComparer.Ordinal)
            .ThenBy(f => f.Kind);
        Assert.True(findings.Count > 10);
        Assert.Equal(expected, findings);
    }
}
