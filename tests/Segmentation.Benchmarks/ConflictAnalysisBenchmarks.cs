using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Segmentation.Rules.Conflicts;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Benchmarks;

/// <summary>
/// Full conflict analysis (every pair of every exclusive group, with witnesses confirmed by the engine, plus
/// unsatisfiable, shadowed and duplicate checks) of a generated ruleset of 1,000 segments: in 10 exclusive groups of 100
/// (49,500 pairs, the baseline), and the same 1,000 conditions in one exclusive group (499,500 pairs). Conditions mix
/// windowed sums and counts, days since first/last, enums, booleans, nulls, or/not. One operation is one
/// <see cref="ConflictAnalyzer.Analyze"/> call, without a budget.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
public class ConflictAnalysisBenchmarks
{
    public const int Segments = 1_000;

    private Ruleset tenGroups = null!;
    private Ruleset oneGroup = null!;

    [GlobalSetup(Target = nameof(AnalyzeWholeRuleset))]
    public void SetupTenGroups() => tenGroups = Generate(10);

    [GlobalSetup(Target = nameof(AnalyzeOneGroupOfThousand))]
    public void SetupOneGroup() => oneGroup = Generate(1);

    /// <summary>10 exclusive groups of 100 segments: 49,500 pairs.</summary>
    [Benchmark(Baseline = true)]
    public ConflictReport AnalyzeWholeRuleset() => ConflictAnalyzer.Analyze(tenGroups);

    /// <summary>The same 1,000 conditions in one exclusive group: 499,500 pairs.</summary>
    [Benchmark]
    public ConflictReport AnalyzeOneGroupOfThousand() => ConflictAnalyzer.Analyze(oneGroup);

    private static Ruleset Generate(int groups)
    {
        var ruleset = GenerateRuleset(groups);
        var findings = ConflictAnalyzer.Analyze(ruleset).Findings;
        var pairs = Segments * ((Segments / groups) - 1) / 2;
        Console.WriteLine($"// {ruleset.Segments.Count} segments in {groups} group(s), {pairs} pairs: "
            + string.Join(", ", findings.GroupBy(f => f.Kind).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key}")));
        return ruleset;
    }

    /// <summary>1,000 segments, segment i in group i modulo <paramref name="groups"/>; the conditions do not depend on the grouping.</summary>
    private static Ruleset GenerateRuleset(int groups)
    {
        var random = new Random(42);
        var yaml = new StringBuilder("""
            attributes:
              plan: { enum: [free, pro, team] }
              country: string
              email_opt_in: bool
              score: number
            groups:

            """);
        for (var g = 0; g < groups; g++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"  group{g}: {{ exclusive: true, cooldown: 24h }}\n");
        }

        yaml.Append("segments:\n");
        for (var i = 0; i < Segments; i++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"  s{i:D4}:\n    group: group{i % groups}\n    priority: {random.Next(0, 50)}\n    when: '{Condition(random)}'\n");
        }

        var loaded = RulesetLoader.Load(yaml.ToString(), "conflicts-benchmark.yaml");
        return loaded.Ruleset ?? throw new InvalidOperationException(string.Join("\n", loaded.Errors));
    }

    private static string Pick(Random random, params string[] options) => options[random.Next(options.Length)];

    private static string Condition(Random random)
    {
        var amount = random.Next(1, 20) * 50;
        var days = random.Next(1, 90);
        return random.Next(7) switch
        {
            0 => $"sum(Purchased.amount, {Pick(random, "30d", "90d", "365d")}) >= {amount} and sum(Purchased.amount, {Pick(random, "30d", "90d", "365d")}) < {amount + (random.Next(1, 10) * 100)}",
            1 => $"count({Pick(random, "Purchased", "Visited")}, {Pick(random, "7d", "30d")}) >= {random.Next(1, 4)} and count({Pick(random, "Purchased", "Visited")}, 90d) < {random.Next(1, 8)}",
            2 => $"days_since(last(Purchased)) > {days} and plan {Pick(random, "==", "!=")} \"{Pick(random, "free", "pro", "team")}\"",
            3 => $"days_since(first(SignedUp)) >= {random.Next(0, 10)} and count(Purchased, {Pick(random, "7d", "30d")}) == 0 and email_opt_in",
            4 => $"plan in [\"{Pick(random, "free", "pro")}\", \"team\"] and (score > {random.Next(0, 50)} or score is null)",
            5 => $"not (country == \"{Pick(random, "NL", "DE", "FR")}\" or count(Purchased where amount >= {amount}, 30d) > {random.Next(0, 3)})",
            _ => $"max(Purchased.amount, 90d) >= {amount} and days_since(last(Visited)) < {random.Next(1, 30)}",
        };
    }
}
