
namespace Segmentation.Rules.Tests.Cli;

public sealed class SegctlTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("segctl-tests").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string Write(string name, string content)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void Validate_prints_a_summary_for_a_good_ruleset()
    {
        var (exit, output, _) = Segctl.Run("validate", "--rules", Segctl.Example("ruleset.yaml"));
        Assert.Equal(0, exit);
        Assert.Matches(@"ruleset\.yaml: ok, 5 segments, 1 groups \(1 exclusive\), 3 attributes, 4 event types", output.Trim());
    }

    [Fact]
    public void Validate_prints_every_error_with_file_line_and_column_and_exits_1()
    {
        var rules = Write("bad.yaml", "segments:\n  a:\n    when: nope > 1\n  b:\n    when: count(X, 0d) > 1\n");
        var (exit, output, _) = Segctl.Run("validate", "--rules", rules);
        Assert.Equal(1, exit);
        var lines = output.Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"{rules}:3:11: unknown attribute `nope`", lines[0], StringComparison.Ordinal);
        Assert.StartsWith($"{rules}:5:20: expected a window longer than zero", lines[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2_000, 0)]
    [InlineData(0, 20_000)]
    public void Validate_reports_a_hostile_condition_at_its_position_instead_of_overflowing(int parentheses, int orTerms)
    {
        var condition = orTerms > 0
            ? string.Join(" or ", Enumerable.Range(0, orTerms).Select(i => $"count(Purchased) > {i}"))
            : new string('(', parentheses) + "count(Purchased) > 1" + new string(')', parentheses);
        var rules = Write("hostile.yaml", $"segments:\n  a:\n    when: {condition}\n");
        var (exit, output, _) = Segctl.Run("validate", "--rules", rules);
        Assert.Equal(1, exit);
        Assert.Matches($@"^{System.Text.RegularExpressions.Regex.Escape(rules)}:3:\d+: expression (nested too deeply|too long)", output.Trim());
    }

    [Fact]
    public void Evaluate_json_prints_one_sorted_line_per_customer()
    {
        var (exit, output, error) = Segctl.Run("evaluate", "--rules", Segctl.Example("ruleset.yaml"), "--events", Segctl.Example("history.jsonl"), "--json", "--at", "2025-04-25T00:00:00Z");
        Assert.Equal(0, exit);
        Assert.Equal(string.Empty, error);
        Assert.Equal(
            [
                """{"customerId":"c1","segments":["welcome_day_3"],"blocked":[]}""",
                """{"customerId":"c2","segments":["win_back"],"blocked":[]}""",
                """{"customerId":"c3","segments":["win_back"],"blocked":[]}""",
                """{"customerId":"c4","segments":["vip"],"blocked":[]}""",
                """{"customerId":"c5","segments":["big_spender","vip"],"blocked":[{"segment":"welcome_day_3","reason":"held by big_spender"},{"segment":"win_back","reason":"held by big_spender"}]}""",
            ],
            output.Trim().Split('\n'));
    }

    [Fact]
    public void Evaluate_defaults_to_the_last_event_time_and_prints_text()
    {
        var (exit, output, _) = Segctl.Run("evaluate", "--rules", Segctl.Example("ruleset.yaml"), "--events", Segctl.Example("history.jsonl"));
        Assert.Equal(0, exit);
        Assert.Contains("c2: big_spender", output, StringComparison.Ordinal);
        Assert.Contains("c5: big_spender, vip; blocked: welcome_day_3 (held by big_spender)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_reports_bad_lines_with_their_number_and_still_evaluates_the_rest()
    {
        var events = Write("h.jsonl", """
            {"eventId":"1","customerId":"c1","type":"Purchased","occurredAt":"2025-01-01T00:00:00Z","properties":{"amount":600}}
            not json
            {"eventId":"2","customerId":"c1","type":"Purchased","occurredAt":"yesterday"}
            """);
        var (exit, output, error) = Segctl.Run("evaluate", "--rules", Segctl.Example("ruleset.yaml"), "--events", events, "--json");
        Assert.Equal(1, exit);
        Assert.Contains($"{events}:2: invalid JSON", error, StringComparison.Ordinal);
        Assert.Contains($"{events}:3: occurredAt `yesterday` is not an ISO-8601 timestamp", error, StringComparison.Ordinal);
        Assert.Equal("""{"customerId":"c1","segments":["big_spender"],"blocked":[]}""", output.Trim());
    }

    [Fact]
    public void Evaluate_explain_prints_each_segment_with_sub_expression_values()
    {
        var (exit, output, _) = Segctl.Run("evaluate", "--rules", Segctl.Example("ruleset.yaml"), "--events", Segctl.Example("history.jsonl"), "--explain", "c5");
        Assert.Equal(0, exit);
        Assert.Contains("welcome_day_3 [contact]: blocked: held by big_spender", output, StringComparison.Ordinal);
        Assert.Contains("sum(Purchased.amount, 90d)  =>  900", output, StringComparison.Ordinal);
    }
}
