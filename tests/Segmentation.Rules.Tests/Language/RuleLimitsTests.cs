using System.Runtime.ExceptionServices;
using Segmentation.Rules.Conflicts;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Language;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Tests.Language;

/// <summary>
/// Hostile rulesets: everything at the limits works through every walker of the library on a small stack, and anything
/// past them, however far, is an error with its position. A stack overflow cannot be caught in .NET, so a failure of
/// these tests is the test host dying, which is what a service would do.
/// </summary>
public class RuleLimitsTests
{
    private const int SmallStack = 512 * 1024;

    private static readonly int Depth = RuleLimits.MaxExpressionDepth;

    public static TheoryData<string, string> AtTheLimit => new()
    {
        // Brackets: Depth - 1 parentheses and the aggregate's own.
        { "parentheses", new string('(', Depth - 1) + "count(Purchased) > 1" + new string(')', Depth - 1) },
        // not^(Depth - 2) over a comparison of a name: Depth levels.
        { "not chain", string.Concat(Enumerable.Repeat("not ", Depth - 2)) + "plan == \"team\"" },
        // a comparison over Depth - 2 additions of literals: Depth levels.
        { "arithmetic chain", string.Join(" + ", Enumerable.Repeat("1", Depth - 1)) + " > 3" },
        { "or chain of the most tokens", OrChain(terms: (RuleLimits.MaxExpressionTokens + 1) / 7) },
        { "and chain of the most tokens", string.Join(" and ", Enumerable.Repeat("plan != \"x\"", (RuleLimits.MaxExpressionTokens + 1) / 4)) },
        { "list of exactly the most tokens", List(items: (RuleLimits.MaxExpressionTokens - 4) / 2) },
    };

    public static TheoryData<string, string, string> PastTheLimit => new()
    {
        { "one parenthesis more", new string('(', Depth) + "count(Purchased) > 1" + new string(')', Depth), "expression nested too deeply" },
        { "2,000 parentheses", new string('(', 2_000) + "count(Purchased) > 1" + new string(')', 2_000), "expression nested too deeply" },
        { "one not more", string.Concat(Enumerable.Repeat("not ", Depth - 1)) + "plan == \"team\"", "expression nested too deeply" },
        { "100,000 nots", string.Concat(Enumerable.Repeat("not ", 100_000)) + "plan == \"team\"", "expression nested too deeply" },
        { "one addition more", string.Join(" + ", Enumerable.Repeat("1", Depth)) + " > 3", "expression nested too deeply" },
        { "20,000 minus signs", new string('-', 20_000) + "1 > 0", "expression nested too deeply" },
        { "one list item more", List(items: ((RuleLimits.MaxExpressionTokens - 4) / 2) + 1), "expression too long" },
        { "or chain of 20,000 terms", OrChain(terms: 20_000), "expression too long" },
        { "+ chain of 20,000 terms", string.Join(" + ", Enumerable.Repeat("1", 20_000)) + " > 3", "expression too long" },
    };

    [Theory]
    [MemberData(nameof(AtTheLimit))]
    public void A_condition_at_the_limits_goes_through_every_walker_on_a_small_stack(string shape, string condition)
    {
        var yaml = Ruleset(condition);
        OnSmallStack(() =>
        {
            var loaded = RulesetLoader.Load(yaml, "limits.yaml");
            Assert.True(loaded.Succeeded, $"{shape}: {string.Join("; ", loaded.Errors)}");
            var engine = new SegmentEngine(loaded.Ruleset!);
            var at = DateTimeOffset.Parse("2025-06-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
            var history = new[]
            {
                new CustomerEvent { EventId = "e1", Type = "Purchased", OccurredAt = at.AddDays(-1), Properties = new Dictionary<string, Value> { ["amount"] = Value.FromNumber(5) } },
                new CustomerEvent { EventId = "e2", Type = "ProfileUpdated", OccurredAt = at, Properties = new Dictionary<string, Value> { ["plan"] = Value.FromString("team") } },
            };
            var result = engine.Replay("c1", history, at);
            Assert.NotNull(engine.Explain(result.State, "limit", at));
            Assert.NotEmpty(ConflictAnalyzer.Analyze(loaded.Ruleset!).Findings);
        });
    }

    [Theory]
    [MemberData(nameof(PastTheLimit))]
    public void A_condition_past_the_limits_is_an_error_at_its_position(string shape, string condition, string message)
    {
        var yaml = Ruleset(condition);
        OnSmallStack(() =>
        {
            var loaded = RulesetLoader.Load(yaml, "limits.yaml");
            var error = Assert.Single(loaded.Errors);
            Assert.Equal(("limits.yaml", 8), (error.FileName, error.Line));
            Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
            Assert.True(error.Column > "    when: ".Length, $"{shape}: {error}");
        });
    }

    [Fact]
    public void The_error_names_the_line_and_column_where_the_limit_is_crossed()
    {
        var condition = new string('(', Depth + 5) + "count(Purchased) > 1" + new string(')', Depth + 5);
        var error = Assert.Single(RulesetLoader.Load(Ruleset(condition), "limits.yaml").Errors);
        // The offending parenthesis is the (Depth + 1)th, after the 10 characters of "    when: " and the opening quote.
        Assert.Equal($"limits.yaml:8:{10 + 1 + Depth + 1}: expression nested too deeply: more than {Depth} levels", error.ToString());
    }

    [Theory]
    [InlineData("[", "]")]
    [InlineData("{a: ", "}")]
    public void Deeply_nested_yaml_is_an_error_not_a_stack_overflow(string open, string close)
    {
        var yaml = "segments:\n  a: " + string.Concat(Enumerable.Repeat(open, 200_000)) + string.Concat(Enumerable.Repeat(close, 200_000)) + "\n";
        OnSmallStack(() =>
        {
            var error = Assert.Single(RulesetLoader.Load(yaml, "deep.yaml").Errors);
            Assert.Equal("deep.yaml", error.FileName);
            Assert.Equal(2, error.Line);
            Assert.Contains($"nested too deeply: more than {RuleLimits.MaxYamlDepth} levels", error.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Yaml_at_the_nesting_limit_is_read()
    {
        // the document (1) -> segments (2) -> a (3); the rest of the depth is taken by an ignored sequence under an unknown key.
        var nested = string.Concat(Enumerable.Repeat("[", RuleLimits.MaxYamlDepth - 3)) + string.Concat(Enumerable.Repeat("]", RuleLimits.MaxYamlDepth - 3));
        var errors = RulesetLoader.Load($"segments:\n  a:\n    when: plan == \"x\"\n    note: {nested}\nattributes:\n  plan: string\n", "ok.yaml").Errors;
        Assert.Equal("ok.yaml:4:5: unknown segment setting `note`; expected one of group, priority, channel, when", Assert.Single(errors).ToString());
    }

    /// <summary><c>plan not in [...]</c>: 2 × items + 4 tokens.</summary>
    private static string List(int items) =>
        "plan not in [" + string.Join(", ", Enumerable.Range(0, items).Select(i => $"\"p{i}\"")) + "]";

    private static string OrChain(int terms) =>
        string.Join(" or ", Enumerable.Range(0, terms).Select(i => $"count(Purchased) > {i}"));

    private static string Ruleset(string condition) =>
        "attributes:\n  plan: string\ngroups:\n  contact: { exclusive: true }\nsegments:\n  limit:\n    group: contact\n"
        + $"    when: '{condition.Replace("'", "''", StringComparison.Ordinal)}'\n"
        + "  other:\n    group: contact\n    when: count(Purchased) > 2\n";

    private static void OnSmallStack(Action action)
    {
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception exception)
            {
                failure = ExceptionDispatchInfo.Capture(exception);
            }
        }, SmallStack);
        thread.Start();
        thread.Join();
        failure?.Throw();
    }
}
