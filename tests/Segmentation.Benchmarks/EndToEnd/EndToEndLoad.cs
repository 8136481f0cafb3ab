using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Segmentation.Service;
using Segmentation.Service.Hosting;
using SegmentationEvents.Contracts;
using SegmentationEvents.ServiceDefaults;
using Storefront.Simulator.Generation;
using Storefront.Simulator.Publishing;

namespace Segmentation.Benchmarks.EndToEnd;

/// <summary>
/// The whole service under load on this machine, beside the raw servers measured in the same run:
/// <c>dotnet run -c Release --project tests/Segmentation.Benchmarks -- e2e [events] [latency-samples]</c>.
/// Throughput: simulator traffic published at full speed, drained by one service instance. Latency: purchases that
/// each enter a segment, paced, timed from the upstream publish to the SegmentEntered consumed downstream.
/// </summary>
internal static class EndToEndLoad
{
    public static async Task<int> Run(string[] args)
    {
        var events = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
        var samples = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000;
        await using var environment = await LoadEnvironment.Create();

        Console.WriteLine("baseline: pgbench, one single-row INSERT per transaction, 8 clients, 10 s ...");
        var commitsPerSecond = await Baselines.PostgresCommitsPerSecond(environment, clients: 8, TimeSpan.FromSeconds(10));
        Console.WriteLine($"baseline: MassTransit publish+consume of {events:N0} messages, no-op consumer ...");
        var messagesPerSecond = await Baselines.RabbitMqMessagesPerSecond(environment, events, concurrency: 16);

        var relayLag = new ConcurrentBag<double>();
        using var listener = ListenTo("segmentation.relay.lag", relayLag);
        using var service = await StartService(environment);
        var throughput = await Throughput(environment, service, events);
        var latencies = await Latencies(environment, samples, eventsPerSecond: 100);
        await service.StopAsync();

        Console.WriteLine();
        Console.WriteLine($"| Measure (this machine, {Environment.ProcessorCount} cores) | Value | Ratio |");
        Console.WriteLine("|---|---:|---:|");
        Console.WriteLine($"| PostgreSQL commits/s (pgbench, 1 insert per transaction) | {commitsPerSecond:N0} | 1 |");
        Console.WriteLine($"| RabbitMQ messages/s (MassTransit publish + no-op consume) | {messagesPerSecond:N0} | 1 |");
        Console.WriteLine($"| Service events/s stored ({events:N0} simulator events, example ruleset) | {throughput:N0} | " +
            $"{throughput / commitsPerSecond:0.00} of pgbench, {throughput / messagesPerSecond:0.00} of RabbitMQ |");
        Console.WriteLine($"| Publish → SegmentEntered consumed, p50 / p95 / p99 ({samples} samples at 100/s) | " +
            $"{Percentile(latencies, 0.50):0.0} / {Percentile(latencies, 0.95):0.0} / {Percentile(latencies, 0.99):0.0} ms | |");
        var lags = relayLag.Select(s => s * 1000).ToList();
        Console.WriteLine($"| Commit → relay publish (segmentation.relay.lag), p50 / p99 ({lags.Count} publishes) | " +
            $"{Percentile(lags, 0.50):0.0} / {Percentile(lags, 0.99):0.0} ms | |");
        return 0;
    }

    private static async Task<IHost> StartService(LoadEnvironment environment)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSegmentationService(
            new SegmentationSettings(environment.RabbitMqUrl, environment.PostgresConnection, environment.Name)
            {
                RulesetPath = Path.Combine(RepositoryRoot(), "infra", "examples", "ruleset.yaml"),
            },
            builder.Configuration);
        var host = builder.Build();
        await host.StartAsync();
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        return host;
    }

    private static async Task<double> Throughput(LoadEnvironment environment, IHost service, int events)
    {
        var history = new SyntheticCustomerGenerator(new SimulationSettings(
            Customers: Math.Max(100, events / 20), TotalEvents: events, Seed: 42,
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

    private static MeterListener ListenTo(string instrument, ConcurrentBag<double> values)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (i, l) =>
            {
                if (i.Meter.Name == SegmentationMetrics.MeterName && i.Name == instrument) l.EnableMeasurementEvents(i);
            },
        };
        listener.SetMeasurementEventCallback<double>((_, value, _, _) => values.Add(value));
        listener.Start();
        return listener;
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p * sorted.Count) - 1)];
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "SegmentationEvents.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }
}
