using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Segmentation.Cli.Commands;
using Segmentation.Rules.Rulesets;
using Segmentation.Rules.Simulation;
using Segmentation.Service.Admin;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Tests.Simulation;

/// <summary>
/// The example history goes through the live service event by event on a fake clock set to each event's occurrence
/// time, then `segctl simulate --service` (the admin API's simulation) runs against what the service stored:
/// the replay must reproduce the live memberships and entries, and no simulation may write or publish anything.
/// The history is shifted so that it ends a minute before the real clock, at a time of day at which nothing falls
/// due for hours (every event is between 08:00 and 18:00 of its day and the end at 20:00), so a snapshot taken on the
/// real clock sees the same profiles the end of the replay does.
/// </summary>
public sealed class SimulationAgainstServiceTests(SimulationAgainstServiceTests.ServiceWithHistory fixture)
    : IClassFixture<SimulationAgainstServiceTests.ServiceWithHistory>
{
    private readonly IsolatedServers servers = fixture.Servers;
    private readonly FakeTimeProvider _time = fixture.Time;
    private readonly ServiceUnderTest _service = fixture.Service;
    private readonly SegmentEventObserver _observer = fixture.Observer;
    private readonly DateTimeOffset _start = fixture.Start;
    private readonly DateTimeOffset _end = fixture.End;

    /// <summary>The service, fed the example history once for the whole class.</summary>
    public sealed class ServiceWithHistory : IAsyncLifetime
    {
        private static readonly DateTimeOffset ExampleEnd = new(2025, 3, 10, 20, 0, 0, TimeSpan.Zero);
        private readonly TimeSpan _shift = DateTimeOffset.UtcNow.AddMinutes(-1) - ExampleEnd;

        public IsolatedServers Servers { get; } = new();
        public FakeTimeProvider Time { get; private set; } = null!;
        public ServiceUnderTest Service { get; private set; } = null!;
        public SegmentEventObserver Observer { get; private set; } = null!;
        public DateTimeOffset Start { get; private set; }
        public DateTimeOffset End { get; private set; }

        public async Task InitializeAsync()
        {
            await Servers.InitializeAsync();
            var history = ExampleHistory().OrderBy(e => e.OccurredAt).ThenBy(e => e.CustomerId, StringComparer.Ordinal).ToList();
            Start = history[0].OccurredAt;
            End = ExampleEnd + _shift;
            Time = new FakeTimeProvider(Start);
            Observer = await SegmentEventObserver.Connect(Servers);
            Service = await ServiceUnderTest.Start(Servers, Time, s => s with { RulesetPath = ExampleRuleset.Path });
            await using var upstream = await UpstreamPublisher.Connect(Servers);
            var published = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var e in history)
            {
                Time.SetUtcNow(e.OccurredAt);
                await upstream.Publish(e);
                published[e.CustomerId] = published.GetValueOrDefault(e.CustomerId) + 1;
                await Eventually.Get(() => Service.StoredEvents(e.CustomerId), events => events.Count == published[e.CustomerId],
                    $"event {e.EventId} recorded");
            }

            Time.SetUtcNow(End);
            await Eventually.Get(DueProfiles, due => due == 0, "the sweeper to evaluate every due customer");
            await using var connection = new NpgsqlConnection(Servers.PostgresConnection);
            await connection.OpenAsync();
            await using var count = new NpgsqlCommand($"SELECT count(*) FROM {Servers.SchemaName}.mt_events WHERE type = 'customer_entered_segment'", connection);
            var entries = (long)(await count.ExecuteScalarAsync())!;
            await Eventually.Get(() => Task.FromResult(Observer.Entered.Count), relayed => relayed == entries, "every entry relayed");
        }

        public async Task DisposeAsync()
        {
            await Service.DisposeAsync();
            await Observer.DisposeAsync();
            await Servers.DisposeAsync();
        }

        private async Task<long> DueProfiles()
        {
            await using var session = Service.Store.QuerySession();
            var now = Time.GetUtcNow();
            return await session.Query<CustomerProfile>().CountAsync(p => p.NextCheckAt <= now);
        }

        private async Task<CustomerProfile?> Profile(string customerId)
        {
            await using var session = Service.Store.QuerySession();
            return await session.LoadAsync<CustomerProfile>(customerId);
        }

        /// <summary>infra/examples/history.jsonl as generic upstream events, shifted to end a minute before the real clock.</summary>
        private IEnumerable<CustomerEvent> ExampleHistory()
        {
            var path = Path.Combine(Path.GetDirectoryName(ExampleRuleset.Path)!, "history.jsonl");
            foreach (var line in File.ReadLines(path).Where(l => l.Trim().Length > 0))
            {
                var root = JsonDocument.Parse(line).RootElement;
                var properties = root.GetProperty("properties").EnumerateObject().ToDictionary(
                    p => p.Name,
                    p => p.Value.ValueKind switch
                    {
                        JsonValueKind.Number => (object?)p.Value.GetDouble(),
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        _ => p.Value.GetString(),
                    });
                yield return new CustomerEvent(
                    Guid.NewGuid(),
                    root.GetProperty("customerId").GetString()!,
                    root.GetProperty("type").GetString()!,
                    DateTimeOffset.Parse(root.GetProperty("occurredAt").GetString()!, CultureInfo.InvariantCulture) + _shift,
                    properties);
            }
        }
    }

    [Fact]
    public async Task Replay_of_the_stored_event_log_reproduces_the_live_memberships_and_entries()
    {
        var report = Simulate("--from", Instant(_start), "--to", Instant(_end));

        Assert.Equal(("replay", 5L), (report.Scope, report.Customers));
        Assert.NotNull(report.Baseline); // the active ruleset, read from the service's tables
        var live = await LiveMemberships();
        Assert.True(live.Entries.Values.Sum() >= 8 && live.Exits.Values.Sum() >= 1, "the history enters and exits segments");
        Assert.Equal(live.Holders.Values.Sum(), report.Segments.Sum(s => s.HoldersAtEnd));
        foreach (var segment in report.Segments)
        {
            Assert.Equal(
                (segment.Segment, live.Holders.GetValueOrDefault(segment.Segment), live.Entries.GetValueOrDefault(segment.Segment),
                    live.Exits.GetValueOrDefault(segment.Segment)),
                (segment.Segment, segment.HoldersAtEnd, segment.Entries, segment.Exits));
            Assert.Equal((0L, 0L), (segment.WouldEnter!.Count, segment.WouldLeave!.Count));
        }

        Assert.Equal(live.EntriesPerDay, report.Segments.SelectMany(s => s.EntriesPerDay.Select(d => $"{s.Segment} {d.Key} {d.Value}")).Order());
    }

    [Fact]
    public async Task Snapshot_of_the_stored_profiles_holds_what_the_service_holds_and_diffs_a_removed_segment()
    {
        var live = await LiveMemberships();
        var same = Simulate();
        Assert.Equal("snapshot", same.Scope);
        Assert.All(same.Segments, s => Assert.Equal((s.Segment, live.Holders.GetValueOrDefault(s.Segment), 0L, 0L), (s.Segment, s.HoldersAtEnd, s.Entries, s.Exits)));

        var withoutWinBack = WriteCandidate(File.ReadAllText(ExampleRuleset.Path).Replace("  win_back:", "  retired_win_back:", StringComparison.Ordinal)
            .Replace("days_since(last(Purchased)) > 60", "days_since(last(Purchased)) > 6000", StringComparison.Ordinal));
        var report = Simulate(["--rules", withoutWinBack]);
        var winBack = report.Segments.Single(s => s.Segment == "win_back");
        Assert.True(live.Holders["win_back"] > 0);
        Assert.Equal((false, true, live.Holders["win_back"], live.Holders["win_back"], 0L),
            (winBack.InCandidate, winBack.InBaseline, winBack.Exits, winBack.WouldLeave!.Count, winBack.HoldersAtEnd));

        // A baseline sent with the candidate instead of the active one: here the same ruleset, so the same report.
        var sent = Simulate(["--rules", withoutWinBack, "--baseline", ExampleRuleset.Path]);
        Assert.Equal(
            report.Segments.Select(s => (s.Segment, s.HoldersAtEnd, s.Entries, s.Exits, s.WouldLeave!.Count)),
            sent.Segments.Select(s => (s.Segment, s.HoldersAtEnd, s.Entries, s.Exits, s.WouldLeave!.Count)));
    }

    [Fact]
    public async Task Simulations_append_nothing_store_nothing_and_publish_nothing()
    {
        var before = await DatabaseFingerprint();
        var (entered, exited) = (_observer.Entered.Count, _observer.Exited.Count);
        var candidate = WriteCandidate(File.ReadAllText(ExampleRuleset.Path).Replace("priority: 20", "priority: 1", StringComparison.Ordinal));

        Simulate(["--rules", candidate]);
        Simulate(["--rules", candidate, "--from", Instant(_start)]);
        Simulate(["--rules", candidate, "--baseline", ExampleRuleset.Path]);

        Assert.Equal(before, await DatabaseFingerprint());
        Assert.Equal((entered, exited), (_observer.Entered.Count, _observer.Exited.Count));
    }

    [Fact]
    public void A_replay_with_no_start_or_ending_before_it_starts_is_refused_with_the_reason()
    {
        Assert.Equal((1, "segctl: a replay needs from (to defaults to now)"), Refused("--to", Instant(_end)));
        Assert.Equal((1, "segctl: from is after to"), Refused("--from", Instant(_end), "--to", Instant(_start)));
    }

    private SimulationReport Simulate(params string[] arguments)
    {
        var (exit, output, error) = Segctl(arguments);
        Assert.True(exit == 0, error);
        return SimulationReport.FromJson(output)!;
    }

    private (int Exit, string Error) Refused(params string[] arguments)
    {
        var (exit, output, error) = Segctl(arguments);
        Assert.Equal(string.Empty, output);
        return (exit, error.Trim());
    }

    private (int Exit, string Output, string Error) Segctl(string[] arguments)
    {
        string[] rules = arguments.Contains("--rules") ? [] : ["--rules", ExampleRuleset.Path];
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = SegctlCommand.Create()
            .Parse(["simulate", .. rules, "--service", _service.Http.BaseAddress!.ToString(), "--api-key", ServiceUnderTest.AdminKey, "--json", .. arguments])
            .Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    private sealed record Live(Dictionary<string, long> Holders, Dictionary<string, long> Entries, Dictionary<string, long> Exits, List<string> EntriesPerDay);

    /// <summary>What the live path produced: holders from the profiles, entries and exits (with their days) from the event log.</summary>
    private async Task<Live> LiveMemberships()
    {
        await using var session = _service.Store.QuerySession();
        var profiles = await session.Query<CustomerProfile>().ToListAsync();
        var holders = profiles.SelectMany(p => p.State.Held.Keys).GroupBy(s => s).ToDictionary(g => g.Key, g => (long)g.Count());
        var entries = new Dictionary<string, long>();
        var exits = new Dictionary<string, long>();
        var days = new Dictionary<string, long>();
        await using var connection = new NpgsqlConnection(servers.PostgresConnection);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"SELECT type, data ->> 'Segment', data ->> 'At' FROM {servers.SchemaName}.mt_events WHERE type IN ('customer_entered_segment', 'customer_exited_segment')",
            connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var segment = reader.GetString(1);
            if (reader.GetString(0) == "customer_exited_segment")
            {
                exits[segment] = exits.GetValueOrDefault(segment) + 1;
                continue;
            }

            entries[segment] = entries.GetValueOrDefault(segment) + 1;
            var day = $"{segment} {DateTimeOffset.Parse(reader.GetString(2), CultureInfo.InvariantCulture).UtcDateTime:yyyy-MM-dd}";
            days[day] = days.GetValueOrDefault(day) + 1;
        }

        return new Live(holders, entries, exits, [.. days.Select(d => $"{d.Key} {d.Value}").Order()]);
    }

    /// <summary>Event count, last sequence number and a digest of every stored document and stream row.</summary>
    private async Task<string> DatabaseFingerprint()
    {
        var schema = servers.SchemaName;
        var parts = new List<string>();
        foreach (var query in new[]
        {
            $"SELECT count(*) || '/' || coalesce(max(seq_id), 0) FROM {schema}.mt_events",
            $"SELECT coalesce(md5(string_agg(id || data::text, ',' ORDER BY id)), '') FROM {schema}.mt_doc_customerprofile",
            $"SELECT coalesce(md5(string_agg(id || data::text, ',' ORDER BY id)), '') FROM {schema}.mt_doc_storedruleset",
            $"SELECT coalesce(md5(string_agg(id || data::text, ',' ORDER BY id)), '') FROM {schema}.mt_doc_rulesetactivation",
            $"SELECT coalesce(md5(string_agg(id || version::text, ',' ORDER BY id)), '') FROM {schema}.mt_streams",
        })
        {
            parts.Add(Convert.ToString(await Scalar(query), CultureInfo.InvariantCulture)!);
        }

        Assert.True(long.Parse(parts[0].Split('/')[0], CultureInfo.InvariantCulture) > 17, "the history's 17 events and the service's own are stored");
        return string.Join(" | ", parts);
    }

    private async Task<object> Scalar(string query)
    {
        await using var connection = new NpgsqlConnection(servers.PostgresConnection);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(query, connection);
        return (await command.ExecuteScalarAsync())!;
    }

    private string WriteCandidate(string yaml)
    {
        var path = Path.Combine(Path.GetTempPath(), $"candidate-{servers.SchemaName}-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private static string Instant(DateTimeOffset at) => at.ToString("O", CultureInfo.InvariantCulture);
}
