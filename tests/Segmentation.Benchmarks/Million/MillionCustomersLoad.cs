using System.Diagnostics;
using System.Globalization;
using Marten;
using Weasel.Core;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using NpgsqlTypes;
using Segmentation.Benchmarks.EndToEnd;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Service.Hosting;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Membership;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;
using SegmentationEvents.Contracts;

namespace Segmentation.Benchmarks.Million;

/// <summary>
/// Time-triggered work and re-evaluation at a million customers:
/// <c>dotnet run -c Release --project tests/Segmentation.Benchmarks -- million [customers] [due] [activate]</c>.
/// Profiles (built by the engine from each customer's sign-up, profile update and purchases, so they are the
/// profiles the service would have stored) and their schedule rows are loaded in bulk. Measured, all in one run:
/// the sweep's cost with nobody due at 10,000 customers and at all of them, each after a vacuum (and the old query over
/// the profiles, for comparison); <c>due</c> customers due at the same instant (they signed up three days before and the example
/// ruleset welcomes them on day 3) decided by two service instances at once, with the count per instance, against
/// the ingestion rate of the same instances in the same run; with <c>activate</c> (default yes), the activation of
/// the candidate ruleset over every customer, with the ingestion rate and latency meanwhile; memory.
/// </summary>
internal static class MillionCustomersLoad
{
    private const int SweepSamples = 100;

    public static async Task<int> Run(string[] args)
    {
        var customers = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        var due = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
        var activate = args.Length <= 2 || args[2] != "no";
        var firstStep = Math.Min(10_000, customers);
        var loadedAt = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddDays(-3);
        var dueAt = loadedAt.AddDays(3);
        var examples = Path.Combine(LoadEnvironment.RepositoryRoot(), "infra", "examples");
        var clock = new SettableClock(loadedAt);

        await using var environment = await LoadEnvironment.Create();
        // The sweepers' timers never fire: each pass is started here, so what is measured is what each pass did.
        Func<SegmentationSettings, SegmentationSettings> manualSweeps = s => s with { SweepInterval = TimeSpan.FromDays(30) };
        using var first = await environment.StartService(Path.Combine(examples, "ruleset.yaml"), clock, manualSweeps);
        Console.WriteLine($"million: {customers:N0} customers ({due:N0} due at {dueAt:yyyy-MM-dd HH:mm}), {Environment.ProcessorCount} cores, " +
            $"load average {Measurements.LoadAverage()}");

        var load = Stopwatch.StartNew();
        var profiles = new ProfileFactory(first.Services.GetRequiredService<ActiveRuleset>().Current, loadedAt, customers, due);
        await Load(first, environment, profiles, 0, firstStep);
        await Vacuum(environment);
        var smallSweep = await SweepCost(first);
        await Load(first, environment, profiles, firstStep, customers);
        Console.WriteLine($"  loaded {customers:N0} profiles and schedule rows in {load.Elapsed.TotalSeconds:0} s");
        await Vacuum(environment);
        var largeSweep = await SweepCost(first);
        var oldQuery = await OldSweepQuery(first, loadedAt);
        Console.WriteLine($"  sweep with nobody due: {smallSweep.TotalMilliseconds:0.00} ms at {firstStep:N0} customers, " +
            $"{largeSweep.TotalMilliseconds:0.00} ms at {customers:N0} (ratio {largeSweep / smallSweep:0.00}); " +
            $"the query it replaced: {oldQuery.TotalMilliseconds:0} ms at {customers:N0}");

        using var second = await environment.StartService(Path.Combine(examples, "ruleset.yaml"), clock, manualSweeps);
        clock.Set(dueAt);
        var dueRun = Stopwatch.StartNew();
        var split = await Task.WhenAll(SweepUntilDone(first), SweepUntilDone(second));
        dueRun.Stop();
        var decidedPerSecond = split.Sum() / dueRun.Elapsed.TotalSeconds;
        Console.WriteLine($"  {due:N0} due at one instant: {split.Sum():N0} decided in {dueRun.Elapsed.TotalSeconds:0.0} s " +
            $"= {decidedPerSecond:0} customers/s (instance 1: {split[0]:N0}, instance 2: {split[1]:N0})");

        var bus = Bus.Factory.CreateUsingRabbitMq(rabbit => rabbit.Host(environment.RabbitMqUrl));
        await bus.StartAsync();
        try
        {
            var ingestion = await Ingest(bus, profiles, dueAt, events: 20_000, perSecond: null, until: null);
            Console.WriteLine($"  write-path baseline, same instances: {ingestion.Stored:N0} events stored at {ingestion.PerSecond:0} events/s " +
                $"(due work ran at {decidedPerSecond / ingestion.PerSecond:0.00} of it)");

            if (activate) await Activate(first, second, bus, profiles, dueAt, examples, ingestion.PerSecond);
        }
        finally
        {
            await bus.StopAsync();
        }

        await PrintMemory(environment);
        return 0;
    }

    private static async Task Activate(IHost first, IHost second, IBusControl bus, ProfileFactory profiles, DateTimeOffset now, string examples, double ingestionBaseline)
    {
        string version;
        await using (var scope = first.Services.CreateAsyncScope())
        {
            var catalog = scope.ServiceProvider.GetRequiredService<RulesetCatalog>();
            var candidate = Path.Combine(examples, "ruleset-candidate.yaml");
            var (stored, errors) = await catalog.Upload(await File.ReadAllTextAsync(candidate), candidate, "million", CancellationToken.None);
            version = stored?.Id ?? throw new InvalidOperationException(string.Join(Environment.NewLine, errors));
            await catalog.Activate(version, "million", CancellationToken.None);
        }

        var activation = Stopwatch.StartNew();
        foreach (var host in new[] { first, second }) await host.Services.GetRequiredService<RulesetWatcher>().LoadActive(CancellationToken.None);
        var progress = first.Services.GetRequiredService<ReevaluationProgress>();
        var total = (await progress.Current(CancellationToken.None)).Remaining;
        using var done = new CancellationTokenSource();
        var meanwhile = Ingest(bus, profiles, now, events: int.MaxValue, perSecond: Math.Max(50, ingestionBaseline / 10), until: done.Token);
        var split = await Task.WhenAll(SweepUntilDone(first, progress), SweepUntilDone(second));
        activation.Stop();
        await done.CancelAsync();
        var ingested = await meanwhile;
        Console.WriteLine($"  activation of {version} over {total:N0} customers: {activation.Elapsed.TotalSeconds:0} s = {total / activation.Elapsed.TotalSeconds:0} customers/s " +
            $"(instance 1: {split[0]:N0}, instance 2: {split[1]:N0}); ingestion meanwhile: {ingested.Stored:N0} events at {ingested.PerSecond:0} events/s offered " +
            $"{Math.Max(50, ingestionBaseline / 10):0}/s, latency p50 {ingested.P50.TotalMilliseconds:0} ms, p99 {ingested.P99.TotalMilliseconds:0} ms");
    }

    /// <summary>Passes of one instance's sweeper until a pass finds nothing; the customers it decided.</summary>
    private static async Task<int> SweepUntilDone(IHost service, ReevaluationProgress? report = null)
    {
        var sweeper = service.Services.GetRequiredService<DueCustomerSweeper>();
        var decided = 0;
        var reported = Stopwatch.StartNew();
        while (await sweeper.SweepOnce(CancellationToken.None) is var pass and > 0)
        {
            decided += pass;
            if (report is not null && reported.Elapsed > TimeSpan.FromSeconds(30))
            {
                var status = await report.Current(CancellationToken.None);
                Console.WriteLine($"    {status.Remaining:N0} left");
                reported.Restart();
            }
        }
        return decided;
    }

    private static async Task<TimeSpan> SweepCost(IHost service)
    {
        var sweeper = service.Services.GetRequiredService<DueCustomerSweeper>();
        var samples = new List<TimeSpan>();
        for (var i = 0; i < SweepSamples + 3; i++)
        {
            var started = Stopwatch.GetTimestamp();
            if (await sweeper.SweepOnce(CancellationToken.None) != 0) throw new InvalidOperationException("a customer was due before the due instant");
            samples.Add(Stopwatch.GetElapsedTime(started));
        }
        return Median(samples.Skip(3));
    }

    /// <summary>The sweeper's query before the schedule table: every profile whose check is due or whose version is not the active one.</summary>
    private static async Task<TimeSpan> OldSweepQuery(IHost service, DateTimeOffset now)
    {
        var version = service.Services.GetRequiredService<ActiveRuleset>().Current.Version;
        var samples = new List<TimeSpan>();
        for (var i = 0; i < 4; i++)
        {
            await using var session = service.Services.GetRequiredService<IDocumentStore>().QuerySession();
            var started = Stopwatch.GetTimestamp();
            var found = await session.Query<CustomerProfile>()
                .Where(p => p.NextCheckAt <= now || p.RulesetVersion != version)
                .OrderBy(p => p.NextCheckAt).Take(200).Select(p => p.Id).ToListAsync();
            if (found.Count != 0) throw new InvalidOperationException("the old query found due customers before the due instant");
            samples.Add(Stopwatch.GetElapsedTime(started));
        }
        return Median(samples.Skip(1));
    }

    private static async Task Load(IHost service, LoadEnvironment environment, ProfileFactory profiles, int from, int to)
    {
        var store = service.Services.GetRequiredService<IDocumentStore>();
        const int Chunk = 20_000;
        for (var start = from; start < to; start += Chunk)
        {
            var chunk = Enumerable.Range(start, Math.Min(Chunk, to - start)).AsParallel().AsOrdered().Select(profiles.Profile).ToList();
            await store.BulkInsertAsync(chunk, BulkInsertMode.InsertsOnly, batchSize: Chunk);
            await using var connection = new NpgsqlConnection(environment.PostgresConnection);
            await connection.OpenAsync();
            await using (var copy = await connection.BeginBinaryImportAsync(
                $"COPY {environment.Name}.{CustomerSchedule.TableName} (customer_id, ruleset_version, due_at) FROM STDIN (FORMAT BINARY)"))
            {
                foreach (var profile in chunk)
                {
                    await copy.StartRowAsync();
                    await copy.WriteAsync(profile.Id, NpgsqlDbType.Text);
                    await copy.WriteAsync(profile.RulesetVersion!, NpgsqlDbType.Text);
                    if (profile.NextCheckAt is { } next) await copy.WriteAsync(next, NpgsqlDbType.TimestampTz);
                    else await copy.WriteNullAsync();
                }
                await copy.CompleteAsync();
            }
            if ((start / Chunk) % 10 == 0) Console.WriteLine($"    {start + chunk.Count:N0} loaded");
        }
    }

    /// <summary>What autovacuum would do after a bulk load, done before measuring so it does not run during the measurement.</summary>
    private static async Task Vacuum(LoadEnvironment environment)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnection);
        await connection.OpenAsync();
        foreach (var table in new[] { CustomerSchedule.TableName, "mt_doc_customerprofile" })
        {
            await using var vacuum = new NpgsqlCommand($"VACUUM ANALYZE {environment.Name}.{table}", connection) { CommandTimeout = 0 };
            await vacuum.ExecuteNonQueryAsync();
        }
    }

    private sealed record IngestionFigures(int Stored, double PerSecond, TimeSpan P50, TimeSpan P99);

    /// <summary>
    /// Purchases of existing customers published to the bus, as fast as they are stored (a window of 500 in flight)
    /// or at <paramref name="perSecond"/> until <paramref name="until"/>; stored counted by the service's counter.
    /// </summary>
    private static async Task<IngestionFigures> Ingest(IBusControl bus, ProfileFactory profiles, DateTimeOffset at, int events, double? perSecond, CancellationToken? until)
    {
        var published = new System.Collections.Concurrent.ConcurrentQueue<long>();
        var latencies = new List<TimeSpan>();
        using var stored = new SemaphoreSlim(0);
        var storedCount = 0;
        using var listener = Measurements.ListenTo<long>("segmentation.events.consumed", _ =>
        {
            if (published.TryDequeue(out var sentAt)) lock (latencies) latencies.Add(Stopwatch.GetElapsedTime(sentAt));
            Interlocked.Increment(ref storedCount);
            stored.Release();
        });
        var run = Stopwatch.StartNew();
        var sent = 0;
        var random = new Random(7);
        var publishes = new List<Task>();
        for (; sent < events && until?.IsCancellationRequested != true; sent++)
        {
            if (perSecond is { } rate)
            {
                var dueIn = TimeSpan.FromSeconds(sent / rate) - run.Elapsed;
                if (dueIn > TimeSpan.Zero) await Task.Delay(dueIn);
            }
            else if (sent - Volatile.Read(ref storedCount) >= 500) await stored.WaitAsync();

            var customer = profiles.CustomerId(random.Next(profiles.Count));
            published.Enqueue(Stopwatch.GetTimestamp());
            publishes.Add(bus.Publish(new OrderPurchased(Guid.NewGuid(), customer, at, $"o-{Guid.NewGuid():N}", 25m, "EUR")));
        }

        await Task.WhenAll(publishes);
        while (Volatile.Read(ref storedCount) < sent) await Task.Delay(50);
        run.Stop();
        latencies.Sort();
        return new IngestionFigures(sent, sent / run.Elapsed.TotalSeconds,
            latencies.Count > 0 ? latencies[latencies.Count / 2] : TimeSpan.Zero,
            latencies.Count > 0 ? latencies[(int)(latencies.Count * 0.99)] : TimeSpan.Zero);
    }

    private static async Task PrintMemory(LoadEnvironment environment)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnection);
        await connection.OpenAsync();
        await using var sizes = new NpgsqlCommand(
            $"SELECT pg_total_relation_size('{environment.Name}.mt_doc_customerprofile'), pg_total_relation_size('{environment.Name}.{CustomerSchedule.TableName}'), " +
            "current_setting('shared_buffers')", connection);
        await using var reader = await sizes.ExecuteReaderAsync();
        await reader.ReadAsync();
        var postgresRss = Process.GetProcessesByName("postgres").Sum(p => p.WorkingSet64);
        Console.WriteLine($"  memory: benchmark process (both service instances) peak {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576:N0} MiB; " +
            $"PostgreSQL processes {postgresRss / 1048576:N0} MiB resident (shared_buffers {reader.GetString(2)}); " +
            $"profiles table {reader.GetInt64(0) / 1048576:N0} MiB, schedule table {reader.GetInt64(1) / 1048576:N0} MiB");
    }

    private static TimeSpan Median(IEnumerable<TimeSpan> samples)
    {
        var sorted = samples.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>
    /// The profile of synthetic customer i, decided by the engine: the first <c>due</c> signed up at the load instant
    /// with e-mail opt-in (due three days later); the others signed up 100 to 700 days before, some with purchases
    /// outside every window and some opted in, so none is due before the due instant.
    /// </summary>
    private sealed class ProfileFactory(LoadedRuleset ruleset, DateTimeOffset loadedAt, int count, int due)
    {
        public int Count => count;

        public string CustomerId(int i) => $"m{i:D7}";

        public CustomerProfile Profile(int i)
        {
            var random = new Random(i);
            var id = CustomerId(i);
            var signedUp = i < due ? loadedAt : loadedAt.AddDays(-random.Next(100, 700));
            var events = new List<CustomerEventRecorded>
            {
                new(DeterministicId(i, 0), WellKnownEventTypes.SignedUp, signedUp, new Dictionary<string, Value>()),
                new(DeterministicId(i, 1), WellKnownEventTypes.ProfileUpdated, signedUp,
                    new Dictionary<string, Value> { ["email_opt_in"] = Value.FromBool(i < due || random.Next(3) > 0), ["plan"] = Value.FromString("free") }),
            };
            if (i >= due)
            {
                for (var p = 0; p < random.Next(0, 6); p++)
                {
                    var at = signedUp.AddDays(random.Next(0, Math.Max(1, (int)(loadedAt - signedUp).TotalDays - 95)));
                    events.Add(new(DeterministicId(i, 2 + p), WellKnownEventTypes.Purchased, at,
                        new Dictionary<string, Value> { ["amount"] = Value.FromNumber(random.Next(5, 400)) }));
                }
            }

            // Each event decided when it happened, then the customer evaluated at the load instant, as the service would have.
            var profile = new CustomerProfile { Id = id, State = new CustomerState { CustomerId = id } };
            foreach (var recorded in events.OrderBy(e => e.OccurredAt))
            {
                Absorb(profile, ruleset.Engine.Apply(profile.State, recorded.ToRuleEvent(), recorded.OccurredAt));
                profile.EventTypes[recorded.Type] = profile.EventTypes.TryGetValue(recorded.Type, out var summary)
                    ? new EventTypeSummary(summary.Count + 1, summary.FirstAt, recorded.OccurredAt)
                    : new EventTypeSummary(1, recorded.OccurredAt, recorded.OccurredAt);
            }

            var result = ruleset.Engine.Evaluate(profile.State, loadedAt);
            Absorb(profile, result);
            profile.Blocked = result.Blocked;
            profile.NextCheckAt = result.NextCheckAt;
            profile.RulesetVersion = ruleset.Version;
            return profile;
        }

        private void Absorb(CustomerProfile profile, EvaluationResult result)
        {
            profile.State = result.State;
            foreach (var change in result.Changes)
            {
                if (change.Kind == MembershipChangeKind.Entered)
                    profile.Segments[change.Segment] = new HeldSegment(change.At, change.Group, ruleset.Segment(change.Segment)?.Channel, ruleset.Version);
                else profile.Segments.Remove(change.Segment);
            }
        }

        private static Guid DeterministicId(int customer, int n) => new(customer, (short)n, 0, 1, 2, 3, 4, 5, 6, 7, 8);
    }
}
