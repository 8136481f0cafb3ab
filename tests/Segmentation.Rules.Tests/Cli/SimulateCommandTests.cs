using System.Text.Json;
using Segmentation.Rules.Simulation;

namespace Segmentation.Rules.Tests.Cli;

public sealed class SimulateCommandTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("segctl-simulate-tests").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Theory]
    [InlineData(null)]
    [InlineData("2025-04-25T00:00:00Z")]
    public void Holders_at_the_end_of_a_replay_are_what_evaluate_prints_for_the_same_history(string? at)
    {
        string[] period = at is null ? [] : ["--to", at];
        string[] evaluateAt = at is null ? [] : ["--at", at];
        var evaluated = Segctl.Run(["evaluate", "--rules", Segctl.Example("ruleset.yaml"), "--events", Segctl.Example("history.jsonl"), "--json", .. evaluateAt]);
        var simulated = Segctl.Run(["simulate", "--rules", Segctl.Example("ruleset.yaml"), "--events", Segctl.Example("history.jsonl"), "--json", .. period]);

        Assert.Equal((0, 0, string.Empty), (evaluated.ExitCode, simulated.ExitCode, simulated.Error));
        var expected = evaluated.Output.Trim().Split('\n')
            .SelectMany(line => JsonDocument.Parse(line).RootElement.GetProperty("segments").EnumerateArray().Select(s => s.GetString()!))
            .GroupBy(segment => segment)
            .ToDictionary(g => g.Key, g => (long)g.Count());
        var report = SimulationReport.FromJson(simulated.Output)!;
        Assert.Equal(5, report.Customers);
        Assert.Equal(
            report.Segments.Select(s => (s.Segment, expected.GetValueOrDefault(s.Segment))),
            report.Segments.Select(s => (s.Segment, s.HoldersAtEnd)));
    }

    [Fact]
    public void Json_output_has_the_documented_shape()
    {
        var (exit, output, _) = Segctl.Run("simulate", "--rules", Segctl.Example("ruleset.yaml"), "--events", Segctl.Example("history.jsonl"), "--json",
            "--baseline", Segctl.Example("ruleset.yaml"));

        Assert.Equal(0, exit);
        var root = JsonDocument.Parse(output).RootElement;
        Assert.Equal(
            ["scope", "from", "to", "days", "candidate", "baseline", "customers", "evaluations", "segments", "groups", "messages"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("replay", root.GetProperty("scope").GetString());
        var segment = root.GetProperty("segments")[0];
        Assert.Equal(
            ["segment", "group", "channel", "inCandidate", "inBaseline", "entries", "exits", "holdersAtEnd", "entriesPerDay", "exitsPerDay",
                "blocked", "baseline", "wouldEnter", "wouldLeave"],
            segment.EnumerateObject().Select(p => p.Name));
        Assert.Equal("welcome_day_3", segment.GetProperty("segment").GetString());
        Assert.Equal(["customers", "heldBy", "cooldown"], segment.GetProperty("blocked").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["group", "contactsPerCustomer", "contactsPerDay", "overlaps"], root.GetProperty("groups")[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal(["channel", "total", "perDay", "baselineTotal", "baselinePerDay"], root.GetProperty("messages")[0].EnumerateObject().Select(p => p.Name));
        // The same ruleset as its own baseline: nobody would enter or leave anything.
        Assert.All(root.GetProperty("segments").EnumerateArray(), s =>
            Assert.Equal((0, 0), (s.GetProperty("wouldEnter").GetProperty("count").GetInt32(), s.GetProperty("wouldLeave").GetProperty("count").GetInt32())));
    }

    [Fact]
    public void Table_lists_each_segment_the_group_and_the_messages()
    {
        var (exit, output, _) = Segctl.Run("simulate", "--rules", Segctl.Example("ruleset.yaml"), "--events", Segctl.Example("history.jsonl"), "--to", "2025-04-25T00:00:00Z");

        Assert.Equal(0, exit);
        var lines = output.Split('\n').Select(line => line.TrimEnd()).ToList();
        Assert.Equal("replay 2024-06-01T08:00:00Z .. 2025-04-25T00:00:00Z (329 days): 5 customers, " +
            lines[0].Split(", ")[1], lines[0]);
        Assert.Matches(@"^segment\s+group\s+channel\s+holders\s+entries\s+exits\s+entries/day\s+blocked: held by\s+cooldown$", lines[3]);
        Assert.Matches(@"^welcome_day_3\s+contact\s+email\s+1\s+1\s+0\s+0\.003\s+big_spender 1\s+0$", lines[5]);
        Assert.Matches(@"^win_back\s+contact\s+sms\s+2\s+2\s+0\s", lines[7]);
        Assert.Contains(lines, line => line.StartsWith("group contact: 5 contacts to 4 of 5 customers; per customer median 1, p95 2, max 2", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("  overlap big_spender + win_back: 2 customers qualified for both at once (e.g. c2, c5)", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("sms ", StringComparison.Ordinal) && line.Contains(" 2 ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("chart.svg")]
    [InlineData("chart.png")]
    public void Chart_is_written_as_svg_or_png_by_extension(string name)
    {
        var path = Path.Combine(directory, name);
        var (exit, _, error) = Segctl.Run("simulate", "--rules", Segctl.Example("ruleset.yaml"), "--events", Segctl.Example("history.jsonl"),
            "--baseline", Segctl.Example("ruleset.yaml"), "--chart", path);

        Assert.Equal(0, exit);
        Assert.Contains("chart written", error, StringComparison.Ordinal);
        var bytes = File.ReadAllBytes(path);
        if (name.EndsWith(".png", StringComparison.Ordinal))
        {
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        }
        else
        {
            var svg = System.Text.Encoding.UTF8.GetString(bytes);
            Assert.Contains("<svg xmlns=\"http://www.w3.org/2000/svg\"", svg, StringComparison.Ordinal);
            Assert.Contains("welcome_day_3 (email)", svg, StringComparison.Ordinal);
            Assert.Contains("win_back baseline (sms)", svg, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--baseline", "active")]
    [InlineData("--to", "tomorrow")]
    [InlineData("--from", "yesterday")]
    public void Bad_combinations_are_refused_with_exit_1(string option, string value)
    {
        var (exit, output, error) = Segctl.Run("simulate", "--rules", Segctl.Example("ruleset.yaml"), "--events", Segctl.Example("history.jsonl"), option, value);

        Assert.Equal(1, exit);
        Assert.Equal(string.Empty, output);
        Assert.StartsWith("segctl: ", error, StringComparison.Ordinal);
    }
}
