using System.CommandLine;
using System.Globalization;
using Npgsql;
using Segmentation.Cli.History;
using Segmentation.Cli.Simulation;
using Segmentation.Rules.Rulesets;
using Segmentation.Rules.Simulation;

namespace Segmentation.Cli.Commands;

/// <summary>
/// `segctl simulate`: runs a candidate ruleset over a JSON-lines history (replay) or over what the live service stored
/// in PostgreSQL (current profiles, or a replay of the event log), beside a baseline, and reports the figures. Reads
/// only: the database is read inside READ ONLY transactions.
/// </summary>
internal static class SimulateCommand
{
    public static Command Create()
    {
        var rules = SegctlCommand.RulesOption();
        var baseline = new Option<string?>("--baseline")
        {
            Description = "ruleset to compare with: a YAML file, or `active` for the service's active ruleset (default with --connection: active)",
        };
        var events = new Option<FileInfo?>("--events") { Description = "JSON-lines event history to replay" };
        var connection = new Option<string?>("--connection") { Description = "PostgreSQL connection string of the segmentation service (read only)" };
        var schema = new Option<string>("--schema") { Description = "the service's schema", DefaultValueFactory = _ => "segmentation" };
        var from = new Option<string?>("--from") { Description = "replay: start counting at this ISO-8601 time (default: the first event)" };
        var to = new Option<string?>("--to") { Description = "replay: stop at this ISO-8601 time (default: the last event; now with --connection)" };
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };
        var chart = new Option<FileInfo?>("--chart") { Description = "write a chart of messages per day per segment (.svg or .png)" };
        var command = new Command(
            "simulate",
            "try a candidate ruleset on a history or on the live profiles, without side effects: holders, entries and exits per day, " +
            "blocked customers, contacts per customer, overlaps, messages per channel, and the diff against a baseline")
        {
            rules, baseline, events, connection, schema, from, to, json, chart,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var request = new SimulateRequest(
                parse.GetRequiredValue(rules), parse.GetValue(baseline), parse.GetValue(events), parse.GetValue(connection),
                parse.GetRequiredValue(schema), parse.GetValue(from), parse.GetValue(to));
            SimulationReport? report;
            try
            {
                report = await Simulate(request, error, cancellationToken);
            }
            catch (NpgsqlException exception)
            {
                error.WriteLine($"segctl: PostgreSQL: {exception.Message}");
                return 2;
            }

            if (report is null)
            {
                return 1;
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

    private sealed record SimulateRequest(
        FileInfo Rules, string? Baseline, FileInfo? Events, string? Connection, string Schema, string? From, string? To);

    private static async Task<SimulationReport?> Simulate(SimulateRequest request, TextWriter error, CancellationToken cancellationToken)
    {
        if ((request.Events is null) == (request.Connection is null))
        {
            error.WriteLine("segctl: give exactly one of --events FILE.jsonl and --connection");
            return null;
        }

        if (!TryInstant(request.From, "--from", error, out var from) || !TryInstant(request.To, "--to", error, out var to)
            || SegctlCommand.LoadRuleset(request.Rules, error) is not { } candidate)
        {
            return null;
        }

        var database = request.Connection is null ? null : new PostgresSimulationSource(request.Connection, request.Schema);
        Ruleset? baseline = null;
        if (request.Baseline == "active" || (request.Baseline is null && database is not null))
        {
            if (database is null)
            {
                error.WriteLine("segctl: --baseline active needs --connection");
                return null;
            }

            if (await database.ActiveRuleset(cancellationToken) is { } active)
            {
                baseline = SegctlCommand.LoadRuleset(active.Yaml, $"{active.FileName} (active {active.Version})", error);
                if (baseline is null)
                {
                    return null;
                }
            }
            else if (request.Baseline == "active")
            {
                error.WriteLine("segctl: the service has no active ruleset");
                return null;
            }
        }
        else if (request.Baseline is { } baselineFile && (baseline = SegctlCommand.LoadRuleset(new FileInfo(baselineFile), error)) is null)
        {
            return null;
        }

        var options = new SimulationOptions();
        if (database is null)
        {
            return await FromHistoryFile(request.Events!, candidate, baseline, from, to, options, error, cancellationToken);
        }

        if (from is null && to is null)
        {
            var progress = TerminalProgress.ForConsole(error, await database.CountProfiles(cancellationToken));
            var report = await RulesetSimulation.Simulate(
                candidate, baseline, new SnapshotScope(database.Profiles(cancellationToken), TimeProvider.System.GetUtcNow()),
                options with { Progress = progress }, cancellationToken);
            progress?.Finish();
            return report;
        }

        if (from is null)
        {
            error.WriteLine("segctl: a replay of the event log needs --from (and optionally --to, default now)");
            return null;
        }

        var replayProgress = TerminalProgress.ForConsole(error, await database.CountStreams(cancellationToken));
        var replay = await RulesetSimulation.Simulate(
            candidate, baseline, new ReplayScope(database.Histories(cancellationToken), from.Value, to ?? TimeProvider.System.GetUtcNow()),
            options with { Progress = replayProgress }, cancellationToken);
        replayProgress?.Finish();
        return replay;
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
