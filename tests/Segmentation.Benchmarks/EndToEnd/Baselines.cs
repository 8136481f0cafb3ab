using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using MassTransit;
using Npgsql;
using SegmentationEvents.Contracts;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Benchmarks.EndToEnd;

/// <summary>What the servers themselves do on this machine, measured in the same run as the service.</summary>
internal static partial class Baselines
{
    /// <summary>
    /// pgbench with one single-row INSERT per transaction: the commit rate PostgreSQL sustains here, the ceiling for
    /// a service that commits once per event.
    /// </summary>
    public static async Task<double> PostgresCommitsPerSecond(LoadEnvironment environment, int clients, TimeSpan duration)
    {
        var settings = new NpgsqlConnectionStringBuilder(environment.PostgresConnection);
        await using (var connection = new NpgsqlConnection(environment.PostgresConnection))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand(
                $"CREATE SCHEMA IF NOT EXISTS {environment.Name}; CREATE TABLE {environment.Name}.commits (id bigserial primary key, body jsonb)", connection);
            await create.ExecuteNonQueryAsync();
        }

        var script = Path.GetTempFileName();
        await File.WriteAllTextAsync(script, $"INSERT INTO {environment.Name}.commits (body) VALUES ('{{\"type\":\"Purchased\",\"amount\":42}}');\n");
        var pgbench = new ProcessStartInfo("/usr/lib/postgresql/15/bin/pgbench",
            ["-n", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", "2", "-T", ((int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture),
             "-f", script, "-h", settings.Host!, "-p", settings.Port.ToString(CultureInfo.InvariantCulture), "-U", settings.Username!, settings.Database!])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["PGPASSWORD"] = settings.Password },
        };
        using var process = Process.Start(pgbench)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        File.Delete(script);
        var tps = TpsLine().Match(output);
        return tps.Success ? double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"pgbench failed: {output}{await process.StandardError.ReadToEndAsync()}");
    }

    /// <summary>Publish and consume through MassTransit and RabbitMQ with a consumer that does nothing.</summary>
    public static async Task<double> RabbitMqMessagesPerSecond(LoadEnvironment environment, int messages, int concurrency)
    {
        var received = 0;
        var done = new TaskCompletionSource();
        var bus = Bus.Factory.CreateUsingRabbitMq(rabbit =>
        {
            rabbit.Host(environment.RabbitMqUrl);
            rabbit.ReceiveEndpoint("baseline", endpoint =>
            {
                endpoint.PrefetchCount = (ushort)(concurrency * 4);
                endpoint.ConcurrentMessageLimit = concurrency;
                endpoint.Handler<OrderPurchased>(_ =>
                {
                    if (Interlocked.Increment(ref received) == messages) done.TrySetResult();
                    return Task.CompletedTask;
                });
            });
        });
        await bus.StartAsync();
        try
        {
            var watch = Stopwatch.StartNew();
            await Parallel.ForEachAsync(Enumerable.Range(0, messages), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
                await bus.Publish(new OrderPurchased(Guid.NewGuid(), $"baseline-{i % 1000}", DateTimeOffset.UtcNow, $"o-{i}", 42m, "EUR"), ct));
            await done.Task.WaitAsync(TimeSpan.FromMinutes(5));
            return messages / watch.Elapsed.TotalSeconds;
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    [GeneratedRegex(@"tps = ([0-9.]+)")]
    private static partial Regex TpsLine();
}
