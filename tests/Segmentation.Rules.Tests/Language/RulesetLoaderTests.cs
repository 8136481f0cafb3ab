using CsCheck;
using Segmentation.Rules.Language;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Tests.Language;

public class RulesetLoaderTests
{
    private static IReadOnlyList<string> Errors(string yaml)
    {
        var result = RulesetLoader.Load(yaml, "r.yaml");
        Assert.False(result.Succeeded);
        return result.Errors.Select(e => e.ToString()).ToList();
    }

    [Fact]
    public void Loads_the_design_example_with_groups_priorities_and_event_types()
    {
        var ruleset = Support.Rules.Load(File.ReadAllText(Path.Combine(RepositoryRoot(), "infra", "examples", "ruleset.yaml")));
        Assert.Equal(["welcome_day_3", "big_spender", "win_back", "vip", "big_order_fan"], ruleset.Segments.Select(s => s.Name));
        var contact = ruleset.Groups["contact"];
        Assert.Equal((true, TimeSpan.FromHours(24), ConflictPolicy.Priority), (contact.Exclusive, contact.Cooldown, contact.OnConflict));
        Assert.Equal(20, ruleset.Segments[1].Priority);
        Assert.Equal(new AttributeType(ExprType.String, ["free", "pro", "team"]).ToString(), ruleset.Attributes["plan"].ToString());
        Assert.Contains("Purchased", ruleset.EventTypes);
    }

    [Fact]
    public void Syntax_error_is_reported_at_its_file_line_and_column_in_a_plain_scalar()
    {
        var errors = Errors("segments:\n  a:\n    when: count(Purchased, 30d) >= \n");
        var error = Assert.Single(errors);
        Assert.StartsWith("r.yaml:3:", error, StringComparison.Ordinal);
        Assert.Contains("syntax error", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_attribute_points_at_the_name_inside_the_condition()
    {
        var errors = Errors("attributes:\n  plan: string\nsegments:\n  a:\n    when: count(Purchased) > 1 and country == \"NL\"\n");
        Assert.Equal(["r.yaml:5:36: unknown attribute `country`; expected one of plan"], errors);
    }

    [Fact]
    public void Positions_inside_double_quoted_and_block_scalars_map_back_to_the_file()
    {
        var quoted = Errors("segments:\n  a:\n    when: \"count(Purchased) > nope\"\n");
        Assert.Equal(["r.yaml:3:31: unknown attribute `nope`; no attributes are declared"], quoted);

        var block = Errors("segments:\n  a:\n    when: |\n      count(Purchased) > 1\n      and nope\n");
        Assert.Equal(["r.yaml:5:11: unknown attribute `nope`; no attributes are declared"], block);

        var folded = Errors("segments:\n  a:\n    when: count(Purchased) > 1\n      and nope\n");
        Assert.Equal(["r.yaml:4:11: unknown attribute `nope`; no attributes are declared"], folded);
    }

    [Fact]
    public void Every_error_in_the_file_is_reported_not_only_the_first()
    {
        var errors = Errors("""
            attributes:
              plan: { enum: [free, pro] }
              age: integer
            groups:
              contact: { exclusive: maybe, cooldown: soon, on_conflict: ignore }
            segments:
              a:
                group: nowhere
                priority: high
                when: plan == "gold"
              b:
                when: Purchased.amount > 3
              c:
                when: sum(Purchased, 30d) > 1 and count(Purchased, 0d) > 0
              d:
                when: days_since(plan) > 1 + "x"
              e:
                when: frobnicate(Purchased)
              f:
                channel: email
            """);
        string[] expected =
        [
            "r.yaml:3:8: unknown attribute type `integer`",
            "r.yaml:5:25: expected true or false, found `maybe`",
            "r.yaml:5:42: expected a duration such as 24h, 7d or 30m, found `soon`",
            "r.yaml:5:61: unknown on_conflict `ignore`; expected priority or reject",
            "r.yaml:8:12: unknown group `nowhere`",
            "r.yaml:9:15: expected an integer priority, found `high`",
            "r.yaml:10:19: \"gold\" is not one of the enum values; expected one of free, pro",
            "r.yaml:12:11: `Purchased.amount` reads an event property outside an aggregate",
            "r.yaml:14:11: sum expects Event.property",
            "r.yaml:14:56: expected a window longer than zero",
            "r.yaml:16:22: expected a timestamp",
            "r.yaml:16:30: cannot apply `+` to a number and a string",
            "r.yaml:18:11: syntax error: unknown function `frobnicate`",
            "r.yaml:19:3: segment `f` has no `when` condition",
        ];
        Assert.Equal(expected.Length, errors.Count);
        foreach (var (want, got) in expected.Zip(errors))
        {
            Assert.StartsWith(want, got, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Invalid_yaml_is_an_error_with_a_position_not_an_exception()
    {
        var error = Assert.Single(Errors("segments:\n  a: [unclosed\n"));
        Assert.Matches(@"^r\.yaml:\d+:\d+: invalid YAML", error);
    }

    [Fact]
    public void Parser_keeps_source_spans_on_every_node()
    {
        const string text = "not (count(Purchased where amount > 100, 30d) >= 2) or plan is null";
        var parsed = ExpressionParser.Parse(text);
        Assert.Null(parsed.Error);
        var or = Assert.IsType<Logical>(parsed.Expression);
        var not = Assert.IsType<Not>(or.Left);
        var aggregate = Assert.IsType<EventAggregate>(Assert.IsType<Binary>(not.Operand).Left);
        Assert.Equal("count(Purchased where amount > 100, 30d)", text.Substring(aggregate.Span.Start, aggregate.Span.Length));
        Assert.Equal(TimeSpan.FromDays(30), aggregate.Window!.Value);
        Assert.Equal("plan is null", text.Substring(or.Right.Span.Start, or.Right.Span.Length));
    }

    [Fact]
    public void Random_input_never_throws_only_reports_errors()
    {
        var alphabet = "abcnotandorinisnullwhere()[],.+-*/=<>!\"' 0123456789dhmTZ:count sum first days_since Purchased now";
        Gen.String[Gen.Char[alphabet], 0, 60].Sample(text =>
        {
            var parsed = ExpressionParser.Parse(text);
            Assert.True(parsed.Expression is not null ^ parsed.Error is not null);
            var loaded = RulesetLoader.Load($"attributes:\n  a: number\nsegments:\n  s:\n    when: {text}\n", "f.yaml");
            Assert.True(loaded.Succeeded || loaded.Errors.Count > 0);
        }, iter: 3000);

        Gen.String.Sample(yaml =>
        {
            var loaded = RulesetLoader.Load(yaml, "f.yaml");
            Assert.True(loaded.Succeeded || loaded.Errors.All(e => e.Line >= 1 && e.Column >= 1));
        }, iter: 2000);
    }

    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "SegmentationEvents.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
