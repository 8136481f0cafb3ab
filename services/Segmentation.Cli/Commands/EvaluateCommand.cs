using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Segmentation.Cli.History;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Cli.Commands;

internal static class EvaluateCommand
{
    private static readonly JsonSerializerOptions JsonOutput = new(JsonSerializerDefaults.Web);

    private sealed record BlockedOutput(string Segment, string Reason);

    private sealed record CustomerOutput(string CustomerId, IReadOnlyList<string> Segments, IReadOnlyList<BlockedOutput> Blocked);

    public static Command Create()
    {
        var rules = SegctlCommand.RulesOption();
        var events = new Option<FileInfo>("--events") { Description = "JSON-lines event history", Required = true };
        var at = new Option<string?>("--at") { Description = "evaluate at this ISO-8601 time (default: the last event's time)" };
        var json = new Option<bool>("--json") { Description = "one JSON object per customer, sorted by customer id" };
        var explain = new Option<string?>("--explain") { Description = "explain every segment for this customer" };
        var command = new Command("evaluate", "replay an event history through a ruleset and print each customer's segments")
        {
            rules, events, at, json, explain,
        };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var rulesFile = parse.GetRequiredValue(rules);
            var eventsFile = parse.GetRequiredValue(events);
            if (SegctlCommand.LoadRuleset(rulesFile, error) is not { } ruleset || !SegctlCommand.TryReadFile(eventsFile, error, out var history))
            {
                return 1;
            }

            var read = JsonLinesHistory.Read(history, eventsFile.ToString());
            foreach (var problem in read.Errors)
            {
                error.WriteLine(problem);
            }

            DateTimeOffset evaluateAt;
            if (parse.GetValue(at) is { } atText)
            {
                if (!DateTimeOffset.TryParse(atText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out evaluateAt))
                {
                    error.WriteLine($"segctl: --at `{atText}` is not an ISO-8601 timestamp");
                    return 1;
                }
            }
            else if (read.Lines.Count > 0)
            {
                evaluateAt = read.Lines.Max(line => line.Event.OccurredAt);
            }
            else
            {
                error.WriteLine("segctl: the history has no events and no --at was given");
                return 1;
            }

            var engine = new SegmentEngine(ruleset);
            var customers = read.Lines
                .GroupBy(line => line.CustomerId, StringComparer.Ordinal)
                .OrderBy(group => group.Key, StringComparer.Ordinal)
                .Select(group => (Id: group.Key, Result: engine.Replay(group.Key, group.Select(line => line.Event), evaluateAt)))
                .ToList();

            if (parse.GetValue(explain) is { } customerId)
            {
                var match = customers.FindIndex(c => c.Id == customerId);
                if (match < 0)
                {
                    error.WriteLine($"segctl: no events for customer `{customerId}`");
                    return 1;
                }

                output.WriteLine($"customer {customerId} at {Value.FormatTimestamp(evaluateAt)}");
                foreach (var segment in ruleset.Segments)
                {
                    output.Write(engine.Explain(customers[match].Result.State, segment.Name, evaluateAt).Render());
                }

                return read.Errors.Count == 0 ? 0 : 1;
            }

            foreach (var (id, result) in customers)
            {
                var held = result.State.Held.Keys.Order(StringComparer.Ordinal).ToList();
                if (parse.GetValue(json))
                {
                    var blocked = result.Blocked.Select(b => new BlockedOutput(b.Segment, b.Reason)).ToList();
                    output.WriteLine(JsonSerializer.Serialize(new CustomerOutput(id, held, blocked), JsonOutput));
                }
                else
                {
                    var segments = held.Count == 0 ? "(none)" : string.Join(", ", held);
                    var blocked = result.Blocked.Count == 0 ? string.Empty
                        : "; blocked: " + string.Join(", ", result.Blocked.Select(b => $"{b.Segment} ({b.Reason})"));
                    output.WriteLine($"{id}: {segments}{blocked}");
                }
            }

            return read.Errors.Count == 0 ? 0 : 1;
        });
        return command;
    }
}
