using System.Text.Json;
using Segmentation.Rules.Tests.Cli;

namespace Segmentation.Rules.Tests.Conflicts;

public sealed class SegctlConflictsTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("segctl-conflicts").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string Write(string name, string content)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    private const string Rejecting = """
        attributes:
          score: number
        groups:
          g: { exclusive: true, on_conflict: reject }
        segments:
          high:
            group: g
            priority: 2
            when: score >= 500
          low:
            group: g
            priority: 1
            when: score <= 500
          never:
            group: g
            when: score > 1 and score < 1
        """;

    [Fact]
    public void Json_prints_one_sorted_line_per_finding_and_a_witness_that_evaluate_confirms()
    {
        var (exit, output, error) = Segctl.Run("conflicts", "--rules", Segctl.Example("ruleset.yaml"), "--json");
        Assert.Equal(0, exit);
        Assert.Equal(string.Empty, error);
        var lines = output.Trim().Split('\n');
        var findings = lines.Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.Equal(
            [("big_spender", "welcome_day_3"), ("big_spender", "win_back"), ("welcome_day_3", "win_back")],
            findings.Select(f => (f.GetProperty("segments")[0].GetString()!, f.GetProperty("segments")[1].GetString()!)));
        Assert.All(findings, f =>
        {
            Assert.Equal("contact", f.GetProperty("group").GetString());
            Assert.Equal("conflict", f.GetProperty("kind").GetString());
            Assert.Equal(["group", "kind", "segments", "witness", "description"], f.EnumerateObject().Select(p => p.Name));
        });

        // The witness is a history in the evaluate format: replayed at its instant, the winner holds and the other is blocked.
        var witness = findings[1].GetProperty("witness");
        var history = Write("witness.jsonl", string.Join("\n", witness.GetProperty("events").EnumerateArray().Select(e => e.GetRawText())));
        var evaluated = Segctl.Run("evaluate", "--rules", Segctl.Example("ruleset.yaml"), "--events", history, "--at", witness.GetProperty("at").GetString()!, "--json");
        Assert.Equal(0, evaluated.ExitCode);
        Assert.Contains("\"segments\":[\"big_spender\"]", evaluated.Output, StringComparison.Ordinal);
        Assert.Contains("{\"segment\":\"win_back\",\"reason\":\"held by big_spender\"}", evaluated.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_report_names_the_winner_and_exits_0_under_priority()
    {
        var (exit, output, _) = Segctl.Run("conflicts", "--rules", Segctl.Example("ruleset.yaml"));
        Assert.Equal(0, exit);
        Assert.Contains("conflict      big_spender / win_back: customers with sum(Purchased.amount, 90d) >= 500", output, StringComparison.Ordinal);
        Assert.Contains("big_spender wins (priority 20 over 5)", output, StringComparison.Ordinal);
        Assert.EndsWith("3 conflict; accepted", output.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_conflict_in_a_reject_group_exits_1_in_conflicts_and_in_validate()
    {
        var rules = Write("reject.yaml", Rejecting);
        var (exit, output, _) = Segctl.Run("conflicts", "--rules", rules, "--json");
        Assert.Equal(1, exit);
        var findings = output.Trim().Split('\n').Select(line => JsonDocument.Parse(line).RootElement).ToList();
        var kinds = findings.Select(f => (f.GetProperty("kind").GetString(), string.Join(",", f.GetProperty("segments").EnumerateArray().Select(s => s.GetString())))).ToList();
        Assert.Equal([("conflict", "high,low"), ("disjoint", "high,never"), ("disjoint", "low,never"), ("unsatisfiable", "never")], kinds);
        Assert.False(findings[1].TryGetProperty("witness", out _));
        var witness = findings[0].GetProperty("witness");
        Assert.Equal(500, witness.GetProperty("events")[0].GetProperty("properties").GetProperty("score").GetDouble());

        var validated = Segctl.Run("validate", "--rules", rules);
        Assert.Equal(1, validated.ExitCode);
        Assert.Contains("group g has on_conflict: reject, but high and low conflict", validated.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_budget_too_small_for_any_pair_reports_them_unanalysed_and_rejects_a_reject_group()
    {
        // A tick is gone before the first pair: normalising and solving every segment comes first.
        var rules = Write("reject.yaml", Rejecting);
        var (exit, output, _) = Segctl.Run("conflicts", "--rules", rules, "--budget-seconds", "0.0000001");
        Assert.Equal(1, exit);
        Assert.Contains("unknown       high / low: unknown: budget exceeded", output, StringComparison.Ordinal);
        Assert.Contains("analysis stopped after its budget of 1E-07 s (--budget-seconds); 3 pair(s) not analysed", output, StringComparison.Ordinal);
        Assert.EndsWith("rejected: not every pair of g (on_conflict: reject) was analysed", output.Trim(), StringComparison.Ordinal);

        var json = Segctl.Run("conflicts", "--rules", rules, "--budget-seconds", "0.0000001", "--json");
        Assert.Equal(1, json.ExitCode);
        Assert.Equal(4, json.Output.Trim().Split('\n').Length);
        Assert.Contains("3 pair(s) not analysed", json.Error, StringComparison.Ordinal);

        var invalid = Segctl.Run("conflicts", "--rules", rules, "--budget-seconds", "0");
        Assert.Equal(1, invalid.ExitCode);
        Assert.Contains("--budget-seconds must be more than 0", invalid.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_ruleset_prints_its_errors_and_exits_1()
    {
        var (exit, _, error) = Segctl.Run("conflicts", "--rules", Write("bad.yaml", "segments:\n  a:\n    when: nope > 1\n"));
        Assert.Equal(1, exit);
        Assert.Contains("unknown attribute `nope`", error, StringComparison.Ordinal);
    }
}
