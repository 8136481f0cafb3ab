using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Tests.Support;

internal static class Rules
{
    public static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public const string Attributes = """
        attributes:
          country: string
          plan: { enum: [free, pro, team] }
          email_opt_in: bool
          score: number
          birthday: timestamp
        """;

    public static Ruleset Load(string yaml)
    {
        var result = RulesetLoader.Load(yaml, "test.yaml");
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return result.Ruleset!;
    }

    /// <summary>A ruleset with the standard attributes and one non-exclusive segment `s` with the given condition.</summary>
    public static Ruleset Single(string condition) => Load($"{Attributes}\nsegments:\n  s:\n    when: '{condition.Replace("'", "''", StringComparison.Ordinal)}'\n");

    private static int nextId;

    public static CustomerEvent Event(string type, DateTimeOffset at, params (string Name, object? Value)[] properties) => new()
    {
        EventId = $"e{Interlocked.Increment(ref nextId):D6}",
        Type = type,
        OccurredAt = at,
        Properties = properties.ToDictionary(p => p.Name, p => p.Value switch
        {
            null => Value.Null,
            string s => Value.FromString(s),
            bool b => Value.FromBool(b),
            _ => Value.FromNumber(Convert.ToDouble(p.Value, System.Globalization.CultureInfo.InvariantCulture)),
        }),
    };
}
