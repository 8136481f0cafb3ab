using System.Globalization;
using CsCheck;
using Segmentation.Rules.Conflicts;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Tests.Conflicts;

/// <summary>
/// On random rulesets: every witness the analyser reports makes the engine find both conditions true; and nothing it
/// claims to have proven (disjoint, unsatisfiable, shadowed, duplicate) is contradicted by any random history. Values
/// and instants are drawn near the rules' constants and window edges, where a wrong proof would show.
/// </summary>
public class ConflictAnalyzerPropertyTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Every_reported_witness_satisfies_both_conditions_in_the_engine()
    {
        var witnesses = 0;
        Gen.Int.Sample(seed =>
        {
            var (yaml, ruleset) = RandomRuleset(new Random(seed));
            foreach (var finding in ConflictAnalyzer.Analyze(ruleset).Findings.Where(f => f.Witness is not null))
            {
                witnesses++;
                var engine = new SegmentEngine(ruleset);
                var state = engine.Replay(ConflictWitness.CustomerId, finding.Witness!.Events, finding.Witness.At).State;
                Assert.True(finding.Segments.All(s => engine.Explain(state, s, finding.Witness.At).ConditionHolds), $"seed {seed}\n{yaml}\n{finding}");
            }
        }, iter: 200);
        Assert.True(witnesses > 50, $"only {witnesses} witnesses in 200 rulesets: the generator or the analyser lost its reach");
    }

    [Fact]
    public void Random_histories_never_contradict_a_proven_finding()
    {
        var proofs = 0;
        Gen.Int.Sample(seed =>
        {
            var random = new Random(seed);
            var (yaml, ruleset) = RandomRuleset(random);
            var proven = ConflictAnalyzer.Analyze(ruleset).Findings
                .Where(f => f.Kind is FindingKind.Disjoint or FindingKind.Unsatisfiable or FindingKind.Shadowed or FindingKind.Duplicate)
                .ToList();
            proofs += proven.Count;
            if (proven.Count == 0)
            {
                return;
            }

            var engine = new SegmentEngine(ruleset);
            for (var history = 0; history < 40; history++)
            {
                var events = RandomHistory(random);
                var at = events.Count == 0 ? Start : events.Max(e => e.OccurredAt).AddHours(random.Next(0, 120)).AddTicks(random.Next(2) == 0 ? 0 : -1);
                var state = engine.Replay("c", events, at).State;
                var holds = ruleset.Segments.ToDictionary(s => s.Name, s => engine.Explain(state, s.Name, at).ConditionHolds, StringComparer.Ordinal);
                foreach (var finding in proven)
                {
                    var (a, b) = (finding.Segments[0], finding.Segments.Count > 1 ? finding.Segments[1] : null);
                    var contradicted = finding.Kind switch
                    {
                        FindingKind.Unsatisfiable => holds[a],
                        FindingKind.Disjoint => holds[a] && holds[b!],
                        FindingKind.Duplicate => holds[a] != holds[b!],
                        _ => holds[Lower(ruleset, a, b!)] && !holds[Lower(ruleset, a, b!) == a ? b! : a],
                    };
                    Assert.False(contradicted,
                        $"seed {seed}: {finding.Kind} {string.Join("/", finding.Segments)} contradicted at {at:O}\n{yaml}\n{string.Join("\n", events.Select(WitnessBuilder.Describe))}");
                }
            }
        }, iter: 200);
        Assert.True(proofs > 50, $"only {proofs} proven findings in 200 rulesets");
    }

    [Fact]
    public void The_shortcuts_give_the_findings_of_solving_every_pair_from_scratch()
    {
        var shared = 0;
        Gen.Int.Sample(seed =>
        {
            // Larger groups, where conditions repeat (shared verdicts) and implications are often refuted by an example.
            var (yaml, ruleset) = RandomRuleset(new Random(seed), segments: 8);
            var fast = ConflictAnalyzer.Analyze(ruleset).Findings.Select(Describe).ToList();
            var reference = ConflictAnalyzer.AnalyzeWithoutShortcuts(ruleset).Findings.Select(Describe).ToList();
            Assert.True(reference.SequenceEqual(fast), $"seed {seed}\n{yaml}\nreference:\n{string.Join("\n", reference)}\nfast:\n{string.Join("\n", fast)}");
            shared += ruleset.Segments.Count - ruleset.Segments.Select(s => CanonicalText.Of(s.Condition)).Distinct(StringComparer.Ordinal).Count();
        }, iter: 100);
        Assert.True(shared > 20, $"only {shared} repeated conditions in 100 rulesets: the generator no longer exercises shared verdicts");
    }

    private static string Describe(ConflictFinding finding) =>
        $"{finding.Group} {finding.Kind} {string.Join("/", finding.Segments)} winner {finding.Winner}: {finding.Description}"
        + (finding.Witness is { } witness ? $"\n  at {witness.At:O}: {string.Join("; ", witness.Events.Select(WitnessBuilder.Describe))}" : string.Empty);

    /// <summary>The segment that loses the slot to the other: lower priority, then the later name.</summary>
    private static string Lower(Ruleset ruleset, string a, string b)
    {
        var (x, y) = (ruleset.Segments.Single(s => s.Name == a), ruleset.Segments.Single(s => s.Name == b));
        return x.Priority != y.Priority ? (x.Priority < y.Priority ? a : b) : (string.CompareOrdinal(a, b) > 0 ? a : b);
    }

    private static (string Yaml, Ruleset Ruleset) RandomRuleset(Random random, int? segments = null)
    {
        var conditions = new List<string>();
        var count = segments ?? random.Next(2, 5);
        for (var i = 0; i < count; i++)
        {
            var condition = random.Next(4) == 0 && i > 0 ? Mutate(random, conditions[random.Next(i)]) : Bool(random, 2);
            conditions.Add(condition);
        }

        var yaml = $"""
            attributes:
              score: number
              opt_in: bool
              plan: {"{"} enum: [free, pro, team] {"}"}
              signup_at: timestamp
            groups:
              g: {"{"} exclusive: true {"}"}
            segments:
            {string.Concat(conditions.Select((c, i) => $"  s{i}:\n    group: g\n    priority: {random.Next(1, 3)}\n    when: '{c.Replace("'", "''", StringComparison.Ordinal)}'\n"))}
            """;
        var loaded = RulesetLoader.Load(yaml, "random.yaml");
        Assert.True(loaded.Succeeded, yaml + "\n" + string.Join("\n", loaded.Errors));
        return (yaml, loaded.Ruleset!);
    }

    /// <summary>A condition close to another: the same one narrowed or widened, to produce shadowing and duplicates.</summary>
    private static string Mutate(Random random, string condition) => random.Next(4) switch
    {
        0 => condition,
        1 => $"({condition}) and {Bool(random, 0)}",
        2 => $"({condition}) or {Bool(random, 0)}",
        _ => $"not (not ({condition}))",
    };

    private static string Pick(Random random, params string[] options) => options[random.Next(options.Length)];

    private static string Window(Random random) => Pick(random, "", ", 6h", ", 1d", ", 3d");

    private static string Bool(Random random, int depth) => random.Next(depth > 0 ? 10 : 7) switch
    {
        0 or 1 => $"{Number(random)} {Pick(random, "==", "!=", "<", "<=", ">", ">=")} {Constant(random)}",
        2 => $"{Time(random)} {Pick(random, "<", "<=", ">", ">=", "==", "!=")} {Time(random)}",
        3 => Pick(random, "opt_in", "not opt_in", "opt_in == false", "plan == \"pro\"", "plan != \"team\"", "plan in [\"free\", \"team\"]", "plan not in [\"pro\"]", "score is null", "plan is not null", "signup_at is null"),
        4 => $"{Number(random)} is {Pick(random, "", "not ")}null",
        5 => $"count({Pick(random, "A", "B")} where amount {Pick(random, ">", "==", "<=")} {random.Next(0, 4) * 50}{Window(random)}) {Pick(random, ">=", "<", "==")} {random.Next(0, 3)}",
        6 => $"{Number(random)} {Pick(random, "<", ">=", "==")} {Number(random)}",
        7 => $"not ({Bool(random, depth - 1)})",
        8 => $"({Bool(random, depth - 1)}) and ({Bool(random, depth - 1)})",
        _ => $"({Bool(random, depth - 1)}) or ({Bool(random, depth - 1)})",
    };

    private static string Constant(Random random) => Pick(random, "0", "1", "2", "3", "50", "100", "150", "2.5", "24");

    private static string Number(Random random) => random.Next(12) switch
    {
        0 or 1 => $"count({Pick(random, "A", "B", "ProfileUpdated")}{Window(random)})",
        2 or 3 => $"{Pick(random, "sum", "min", "max", "avg")}({Pick(random, "A", "B")}.amount{Window(random)})",
        4 or 5 => $"days_since({Time(random)})",
        6 or 7 => $"hours_since({Time(random)})",
        8 or 9 => "score",
        10 => $"score {Pick(random, "+", "*")} {random.Next(1, 3)}",
        _ => $"sum(A.amount{Window(random)}) - count(B)",
    };

    private static string Time(Random random) => random.Next(7) switch
    {
        0 => $"first({Pick(random, "A", "B")})",
        1 => $"last({Pick(random, "A", "B")})",
        2 => "now",
        3 => $"now - {random.Next(1, 50)}h",
        4 => $"last({Pick(random, "A", "B")}) + {Pick(random, "2h", "1d", "36h")}",
        5 => "signup_at",
        _ => Start.AddHours(random.Next(0, 200)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
    };

    private static List<CustomerEvent> RandomHistory(Random random)
    {
        var events = new List<CustomerEvent>();
        var at = Start.AddHours(random.Next(0, 48));
        var count = random.Next(0, 10);
        for (var i = 0; i < count; i++)
        {
            at = at.AddHours(random.Next(0, 30));
            var type = Pick(random, "A", "B", "ProfileUpdated");
            var properties = new Dictionary<string, Value>(StringComparer.Ordinal);
            if (type == "ProfileUpdated")
            {
                if (random.Next(2) == 0)
                {
                    properties["score"] = random.Next(5) == 0 ? Value.Null : Value.FromNumber(random.Next(-1, 4) * (random.Next(2) == 0 ? 1 : 50) + (random.Next(4) == 0 ? 0.5 : 0));
                }

                if (random.Next(2) == 0)
                {
                    properties["opt_in"] = Value.FromBool(random.Next(2) == 0);
                }

                if (random.Next(2) == 0)
                {
                    properties["plan"] = random.Next(5) == 0 ? Value.Null : Value.FromString(Pick(random, "free", "pro", "team", "gold"));
                }

                if (random.Next(3) == 0)
                {
                    properties["signup_at"] = Value.FromString(Start.AddHours(random.Next(0, 200)).ToString("O", CultureInfo.InvariantCulture));
                }
            }
            else if (random.Next(4) != 0)
            {
                properties["amount"] = Value.FromNumber(random.Next(0, 4) * 50);
            }

            events.Add(new CustomerEvent { EventId = $"e{i:D2}", Type = type, OccurredAt = at, Properties = properties });
        }

        return events;
    }
}
