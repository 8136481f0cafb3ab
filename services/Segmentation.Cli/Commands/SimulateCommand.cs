using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Segmentation.Cli.History;
using Segmentation.Cli.Simulation;
using Segmentation.Rules.Rulesets;
using Segmentation.Rules.Simulation;

namespace Segmentation.Cli.Commands;

/// <summary>
/// `segctl simulate`: runs a candidate ruleset beside a baseline, with no side effects, over a JSON-lines history
/// (replay, here) or over what the live service stored (current profiles, or a replay of its event log: the service
/// runs it, <c>POST /rulesets/simulate</c>, since only the service reads its own database), and reports the figures.
/// </summary>
internal static class SimulateCommand
{
    public static Command Create()
    {
        var rules = SegctlCommand.RulesOption();
        var baseline = new Option<string?>("--baseline")
        {
            Description = "ruleset to compare with: a YAML file, or `active` for the service's active ruleset (the default without --events)",
        };
        var events = new Option<FileInfo?>("--events") { Description = "JSON-lines event history to replay here (without it, the live service simulates)" };
        var service = new AdminServiceOptions();
        var from = new Option<string?>("--from") { Description = "replay: start counting at this ISO-8601 time (default: the first event; needed for a replay of the service's log)" };
        var to = new Option<string?>("--to") { Description = "replay: stop at this ISO-8601 time (default: the last event; now for the service's log)" };
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };
        var chart = new Option<FileInfo?>("--chart") { Description = "write a chart of messages per day per segment (.svg or .png)" };
        var command = new Command(
            "simulate",
            "try a candidate ruleset on a history or on the live profiles, without side effects: holders, entries and exits per day, " +
            "blocked customers, contacts per customer, overlaps, messages per channel, and the diff against a baseline")
        {
            rules, baseline, events, from, to, json, chart,
        };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var request = new SimulateRequest(parse.GetRequiredValue(rules), parse.GetValue(baseline), parse.GetValue(events), parse.GetValue(from), parse.GetValue(to));
            var (report, exit) = request.Events is null
                ? await OnService(request, service, parse, error, cancellationToken)
                : (await OnHistoryFile(request, error, cancellationToken), 1);
            if (report is null)
            {
                return exit;
            }

            if (parse.GetValue(json))
            {
                parse.InvocationConfiguration.Output.WriteLine(report.ToJson());
            }
            else
            {
                SimulationTable.Write(report, parse.InvocationConfiguration.Output);
            }

            if (parse.GetValue(chart) is { } chartFile)
            {
                SimulationChart.Write(report, chartFile.FullName);
                error.WriteLine($"segctl: chart written to {chartFile}");
            }

            return 0;
        });
        return command;
    }

    private sealed record SimulateRequest(FileInfo Rules, string? Baseline, FileInfo? Events, string? From, string? To);

    /// <summary>The service simulates on what it stored; exit 1 for a refused ruleset or request, 2 when the service cannot answer.</summary>
    private static async Task<(SimulationReport? Report, int Exit)> OnService(
        SimulateRequest request, AdminServiceOptions service, ParseResult parse, TextWriter error, CancellationToken cancellationToken)
    {
        if (!TryInstant(request.From, "--from", error, out var from) || !TryInstant(request.To, "--to", error, out var to)
            || !SegctlCommand.TryReadFile(request.Rules, error, out var candidate))
        {
            return (null, 1);
        }

        string? baselineYaml = null;
        if (request.Baseline is { } baselineFile && baselineFile != "active" && !SegctlCommand.TryReadFile(new FileInfo(baselineFile), error, out baselineYaml))
        {
            return (null, 1);
        }

        using var http = service.Connect(parse, error);
        if (http is null)
        {
            return (null, 2);
        }

        var query = new List<string> { $"fileName={Uri.EscapeDataString(request.Rules.Name)}" };
        if (from is { } start) query.Add($"from={Uri.EscapeDataString(start.ToString("O", CultureInfo.InvariantCulture))}");
        if (to is { } end) query.Add($"to={Uri.EscapeDataString(end.ToString("O", CultureInfo.InvariantCulture))}");
        HttpContent body = baselineYaml is null
            ? new StringContent(candidate, System.Text.Encoding.UTF8, "application/yaml")
            : JsonContent.Create(new { candidate, baseline = baselineYaml });
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync(new Uri($"rulesets/simulate?{string.Join('&', query)}", UriKind.Relative), body, cancellationToken);
        }
        catch (HttpRequestException exception)
        {
            error.WriteLine($"segctl: cannot reach {http.BaseAddress}: {exception.Message}");
            return (null, 2);
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return (SimulationReport.FromJson(text), 0);
        }

        if (response.StatusCode is HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest && Problems(text) is { Count: > 0 } problems)
        {
            foreach (var problem in problems) error.WriteLine(problem);
            return (null, 1);
        }

        error.WriteLine($"segctl: {(int)response.StatusCode} {response.ReasonPhrase}: {text}");
        return (null, 2);
    }

    /// <summary>The service's refusal: <c>{"errors": [...]}</c> (a ruleset's line:column errors) or <c>{"error": "..."}</c>.</summary>
    private static List<string>? Problems(string body)
    {
        try
        {
            var root = JsonDocument.Parse(body).RootElement;
            if (root.TryGetProperty("errors", out var errors)) return [.. errors.EnumerateArray().Select(e => e.GetString() ?? "")];
            if (root.TryGetProperty("error", out var single)) return [$"segctl: {single.GetString()}"];
        }
        catch (JsonException)
        {
        }

        return null;
    }

    private static async Task<SimulationReport?> OnHistoryFile(SimulateRequest request, TextWriter error, CancellationToken cancellationToken)
    {
        if (!TryInstant(request.From, "--from", error, out var from) || !TryInstant(request.To, "--to", error, out var to)
            || SegctlCommand.LoadRuleset(request.Rules, error) is not { } candidate)
        {
            return null;
        }

        Ruleset? baseline = null;
        if (request.Baseline == "active")
        {
            error.WriteLine("segctl: --baseline active compares with the live service: leave out --events, or give --baseline FILE.yaml");
            return null;
        }

        if (request.Baseline is { } baselineFile && (baseline = SegctlCommand.LoadRuleset(new FileInfo(baselineFile), error)) is null)
        {
            return null;
        }

        return await FromHistoryFile(request.Events!, candidate, baseline, from, to, new SimulationOptions(), error, cancellationToken);
    }

    /// <summary>Replays a JSON-lines file (read whole: its lines are grouped per customer). Default period: first to last event.</summary>
    private static async Task<SimulationReport?> FromHistoryFile(
        FileInfo file, Ruleset candidate, Ruleset? baseline, DateTimeOffset? from, DateTimeOffset? to,
        SimulationOptions options, TextWriter error, CancellationToken cancellationToken)
    {
        if (!SegctlCommand.TryReadFile(file, error, out var text))
        {
            return null;
        }

        var read = JsonLinesHistory.Read(text, file.ToString());
        foreach (var problem in read.Errors)
        {
            error.WriteLine(problem);
        }

        if (read.Errors.Count > 0)
        {
            return null;
        }

        if (read.Lines.Count == 0 && (from is null || to is null))
        {
            error.WriteLine("segctl: the history has no events; give --from and --to");
            return null;
        }

        var start = from ?? read.Lines.Min(line => line.Event.OccurredAt);
        var end = to ?? read.Lines.Max(line => line.Event.OccurredAt);
        if (start > end)
        {
            error.WriteLine($"segctl: --from {Rules.Evaluation.Value.FormatTimestamp(start)} is after the end {Rules.Evaluation.Value.FormatTimestamp(end)}");
            return null;
        }

        var histories = read.Lines
            .GroupBy(line => line.CustomerId, StringComparer.Ordinal)
            .Select(group => new CustomerHistory(group.Key, [.. group.Select(line => line.Event)]))
            .ToList();
        var progress = TerminalProgress.ForConsole(error, histories.Count);
        var report = await RulesetSimulation.Simulate(
            candidate, baseline, new ReplayScope(histories.ToAsyncEnumerable(), start, end), options with { Progress = progress }, cancellationToken);
        progress?.Finish();
        return report;
    }

    private static bool TryInstant(string? text, string option, TextWriter error, out DateTimeOffset? instant)
    {
        instant = null;
        if (text is null)
        {
            return true;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
        {
            instant = parsed;
            return true;
        }

        error.WriteLine($"segctl: {option} `{text}` is not an ISO-8601 timestamp");
        return false;
    }
}
