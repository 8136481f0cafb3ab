using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using MassTransit;
using Npgsql;
using Segmentation.Service.Ingestion;
using SegmentationEvents.Contracts;
using Storefront.Simulator.Generation;
using Storefront.Simulator.Publishing;

namespace Segmentation.Benchmarks.EndToEnd;

/// <summary>
/// The whole service under load on this machine, beside the raw servers measured in the same run:
/// <c>dotnet run -c Release --project tests/Segmentation.Benchmarks -- e2e [events] [latency-samples] [profile-chars]</c>.
/// Throughput: simulator traffic published at full speed, drained by one service instance. Latency: purchases that
/// each enter a segment, paced at half the throughput just measured, timed from the upstream publish to the
/// SegmentEntered consumed downstream. Then pgbench replays the SQL of one decision, shaped like the run's own rows,
/// with a profile document of the mean size (or the stored one nearest <c>profile-chars</c>).
/// </summary>
internal static class EndToEndLoad
{
    public static async Task<int> Run(string[] args)
    {
        var events = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
        var samples = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000;
        int? profileLength = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : null;
        var customers = Math.Max(100, events / 20);
        await using var environment = await LoadEnvironment.Create();
        var rulesetPath = Path.Combine(LoadEnvironment.RepositoryRoot(), "infra", "examples", "ruleset.yaml");
        // The baselines use as many clients as the service commits on at once: its batch writers.
        var ingestion = LoadEnvironment.IngestionOptions();
        var clients = ingestion.Writers;
        var baselineDuration = TimeSpan.FromSeconds(10);
        var loadAtStart = Measurements.LoadAverage();

        Console.WriteLine($"baseline: pgbench, one single-row INSERT per transaction, {clients} clients, 10 s ...");
        var commitsPerSecond = await Baselines.PostgresCommitsPerSecond(environment, clients, baselineDuration);
        Console.WriteLine($"baseline: MassTransit publish+consume of {events:N0} messages, no-op consumer ...");
        var messagesPerSecond = await Baselines.RabbitMqMessagesPerSecond(environment, events, concurrency: 16);

        var relayLag = new ConcurrentBag<double>();
        using var listener = Measurements.ListenTo<double>("segmentation.relay.lag", relayLag.Add);
        using var service = await environment.StartService(rulesetPath);
        var throughput = await Throughput(environment, events, customers);
        // Measured before the latency phase, whose customers have one event each.
        var shape = await DecisionShape.Measure(environment, profileLength);
        var latencyRate = Math.Max(1, (int)(throughput / 2));
        var latencies = await Latencies(environment, samples, latencyRate);
        await service.StopAsync();

        Console.WriteLine($"baseline: pgbench, one decision's SQL per transaction, {clients} clients, 10 s; {shape.Describe()} ...");
        var decisionsPerSecond = await Baselines.DecisionsPerSecond(environment, shape, customers, clients, baselineDuration);

        Console.WriteLine();
        Console.WriteLine($"e2e {events} {samples}{(profileLength is null ? "" : $" {profileLength}")}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, " +
            $"{Environment.ProcessorCount} cores, load average {loadAtStart} at the start and {Measurements.LoadAverage()} at the end, " +
            $"service concurrency {environment.ServiceSettings(rulesetPath).Concurrency}, {ingestion.Writers} writers, batches of up to " +
            $"{ingestion.BatchSize} waiting up to {ingestion.BatchWait.TotalMilliseconds:0} ms; decision shape: {shape.Describe()}");
        Console.WriteLine();
        Console.WriteLine("| Measure | Value | Service as a share of it |");
        Console.WriteLine("|---|---:|---:|");
        Console.WriteLine($"| PostgreSQL commits/s (pgbench, 1 single-row insert per transaction, {clients} clients) | {commitsPerSecond:N0} | {throughput / commitsPerSecond:0.000} |");
        Console.WriteLine($"| PostgreSQL decisions/s (pgbench, one decision's SQL per transaction, {clients} clients) | {decisionsPerSecond:N0} | {throughput / decisionsPerSecond:0.000} |");
        Console.WriteLine($"| RabbitMQ messages/s (MassTransit publish + no-op consume) | {messagesPerSecond:N0} | {throughput / messagesPerSecond:0.000} |");
        Console.WriteLine($"| Service events/s stored ({events:N0} simulator events, {customers:N0} customers, example ruleset) | {throughput:N0} | 1 |");
        Console.WriteLine($"| Publish → SegmentEntered consumed, p50 / p95 / p99 ({samples} samples at {latencyRate}/s, 50 % of the rate above) | " +
            $"{Measurements.Percentile(latencies, 0.50):0.0} / {Measurements.Percentile(latencies, 0.95):0.0} / {Measurements.Percentile(latencies, 0.99):0.0} ms | |");
        var lags = relayLag.Select(s => s * 1000).ToList();
        Console.WriteLine($"| Commit → relay publish (segmentation.relay.lag), p50 / p99 ({lags.Count} publishes) | " +
            $"{Measurements.Percentile(lags, 0.50):0.0} / {Measurements.Percentile(lags, 0.99):0.0} ms | |");
        return 0;
    }

    private static async Task<double> Throughput(LoadEnvironment environment, int events, int customers)
    {
        var history = new SyntheticCustomerGenerator(new SimulationSettings(
            Customers: customers, TotalEvents: events, Seed: 42,
            Start: DateTimeOffset.UtcNow.AddDays(-30), Span: TimeSpan.FromDays(29))).Generate().ToList();
        var bus = Bus.Factory.CreateUsingRabbitMq(rabbit => rabbit.Host(environment.RabbitMqUrl));
        await bus.StartAsync();
        Console.WriteLine($"service: publishing {events:N0} simulator events at full speed and waiting until all are stored ...");
        var watch = Stopwatch.StartNew();
        await new SimulatorPublisher(bus, TimeProvider.System, TextWriter.Null).RunAsync(history, eventsPerSecond: 0, default);
        await bus.StopAsync();
        while (await StoredEvents(environment) < events)
        {
            if (watch.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException("the service did not store every event in 10 minutes");
            await Task.Delay(100);
        }
        return events / watch.Elapsed.TotalSeconds;
    }

    private static async Task<List<double>> Latencies(LoadEnvironment environment, int samples, int eventsPerSecond)
    {
        var published = new ConcurrentDictionary<string, long>();
        var latencies = new ConcurrentBag<double>();
        var all = new TaskCompletionSource();
        var bus = Bus.Factory.CreateUsingRabbitMq(rabbit =>
        {
            rabbit.Host(environment.RabbitMqUrl);
            rabbit.ReceiveEndpoint("load-downstream", endpoint => endpoint.Handler<SegmentEntered>(context =>
            {
                if (published.TryGetValue(context.Message.CustomerId, out var at))
                {
                    latencies.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                    if (latencies.Count == samples) all.TrySetResult();
                }
                return Task.CompletedTask;
            }));
        });
        await bus.StartAsync();
        Console.WriteLine($"service: {samples} purchases at {eventsPerSecond}/s, each entering big_spender; timing publish → SegmentEntered consumed ...");
        using var pace = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / eventsPerSecond));
        for (var i = 0; i < samples; i++)
        {
            await pace.WaitForNextTickAsync();
            var customer = $"latency-{i}";
            published[customer] = Stopwatch.GetTimestamp();
            await bus.Publish(new OrderPurchased(Guid.NewGuid(), customer, DateTimeOffset.UtcNow, $"o-{i}", 900m, "EUR"));
        }
        await all.Task.WaitAsync(TimeSpan.FromMinutes(2));
        await bus.StopAsync();
        return [.. latencies];
    }

    private static async Task<long> StoredEvents(LoadEnvironment environment)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnection);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand(
            $"SELECT count(*) FROM {environment.Name}.mt_events WHERE type = 'customer_event_recorded'", connection);
        return (long)(await count.ExecuteScalarAsync())!;
    }
}
