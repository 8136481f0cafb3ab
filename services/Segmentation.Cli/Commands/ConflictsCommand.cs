using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Segmentation.Rules.Conflicts;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Cli.Commands;

internal static class ConflictsCommand
{
    // Descriptions contain comparison operators; the relaxed encoder keeps them readable (the output is not embedded in HTML).
    private static readonly JsonSerializerOptions JsonOutput = new(JsonSerializerDefaults.Web) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private sealed record EventOutput(string EventId, string CustomerId, string Type, string OccurredAt, IReadOnlyDictionary<string, Value> Properties);

    private sealed record WitnessOutput(string At, IReadOnlyList<EventOutput> Events);

    private sealed record FindingOutput(
        string? Group,
        string Kind,
        IReadOnlyList<string> Segments,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] WitnessOutput? Witness,
        string Description);

    public static Command Create()
    {
        var rules = SegctlCommand.RulesOption();
        var json = new Option<bool>("--json") { Description = "one JSON object per finding, sorted by group and segments" };
        var budgetSeconds = new Option<double>("--budget-seconds")
        {
            Description = "stop analysing after this many seconds and report the pairs not reached as unknown: budget exceeded",
            DefaultValueFactory = _ => 30,
        };
        budgetSeconds.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() is not (> 0 and <= 86_400))
            {
                result.AddError("--budget-seconds must be more than 0 and at most 86400");
            }
        });
        var command = new Command(
            "conflicts",
            "find segments of an exclusive group that can catch the same customer (with an example history), segments that never match, shadowed and duplicate ones; exit 1 when a group with on_conflict: reject has a conflict or was not fully analysed within --budget-seconds")
        {
            rules, json, budgetSeconds,
        };
        command.SetAction((parse, cancellationToken) => Task.FromResult(Run(parse, rules, json, budgetSeconds, cancellationToken)));
        return command;
    }

    private static int Run(ParseResult parse, Option<FileInfo> rules, Option<bool> json, Option<double> budgetSeconds, CancellationToken cancellationToken)
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        var file = parse.GetRequiredValue(rules);
        if (SegctlCommand.LoadRuleset(file, error) is not { } ruleset)
        {
            return 1;
        }

        var limit = TimeSpan.FromSeconds(parse.GetValue(budgetSeconds));
        var report = ConflictAnalyzer.Analyze(ruleset, new ConflictAnalysisBudget(maxDuration: limit, clock: TimeProvider.System), cancellationToken);
        if (parse.GetValue(json))
        {
            foreach (var finding in report.Findings)
            {
                output.WriteLine(JsonSerializer.Serialize(ToOutput(finding), JsonOutput));
            }

            if (report.BudgetExceeded)
            {
                // Standard output stays one finding a line; the truncation is said beside it.
                error.WriteLine($"segctl: conflicts: {Truncation(report, limit)}");
            }
        }
        else
        {
            WriteText(output, ruleset, report, limit);
        }

        return report.Accepted ? 0 : 1;
    }

    private static string Truncation(ConflictReport report, TimeSpan limit) =>
        $"analysis stopped after its budget of {limit.TotalSeconds:G6} s (--budget-seconds); "
        + $"{report.UnanalysedPairs} pair(s) not analysed";

    private static FindingOutput ToOutput(ConflictFinding finding) => new(
        finding.Group,
        finding.Kind.ToString().ToLowerInvariant(),
        finding.Segments,
        finding.Witness is { } witness ? new WitnessOutput(Value.FormatTimestamp(witness.At), [.. witness.Events.Select(ToOutput)]) : null,
        finding.Description);

    private static EventOutput ToOutput(CustomerEvent e) =>
        new(e.EventId, ConflictWitness.CustomerId, e.Type, Value.FormatTimestamp(e.OccurredAt), e.Properties);

    private static void WriteText(TextWriter output, Ruleset ruleset, ConflictReport report, TimeSpan limit)
    {
        foreach (var group in report.Findings.GroupBy(f => f.Group))
        {
            output.WriteLine(group.Key is { } name && ruleset.Groups.TryGetValue(name, out var definition)
                ? $"group {name} ({(definition.Exclusive ? "exclusive" : "not exclusive")}, on_conflict: {definition.OnConflict.ToString().ToLowerInvariant()})"
                : "segments outside any group");
            foreach (var finding in group)
            {
                output.WriteLine($"  {finding.Kind.ToString().ToLowerInvariant(),-13} {string.Join(" / ", finding.Segments)}: {finding.Description}");
                if (finding.Witness is { } witness)
                {
                    output.WriteLine($"    example customer at {Value.FormatTimestamp(witness.At)} (JSON lines for segctl evaluate --at):");
                    foreach (var e in witness.Events)
                    {
                        output.WriteLine("      " + JsonSerializer.Serialize(ToOutput(e), JsonOutput));
                    }
                }
            }
        }

        var counts = Enum.GetValues<FindingKind>()
            .Select(kind => (Kind: kind, Count: report.Findings.Count(f => f.Kind == kind)))
            .Where(p => p.Count > 0)
            .Select(p => $"{p.Count} {p.Kind.ToString().ToLowerInvariant()}");
        var verdict = report.Accepted ? "accepted"
            : report.RejectedConflicts.Count > 0 ? $"rejected: {report.RejectedConflicts.Count} conflict(s) in groups with on_conflict: reject"
            : $"rejected: not every pair of {string.Join(", ", report.UnfinishedRejectingGroups)} (on_conflict: reject) was analysed";
        if (report.BudgetExceeded)
        {
            output.WriteLine(Truncation(report, limit));
        }

        output.WriteLine($"{ruleset.FileName}: {string.Join(", ", counts.DefaultIfEmpty("no findings"))}; {verdict}");
    }
}
