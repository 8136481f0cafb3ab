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
        await using (var connection = new NpgsqlConnection(environment.PostgresConnection))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand(
                $"CREATE SCHEMA IF NOT EXISTS {environment.Name}; CREATE TABLE {environment.Name}.commits (id bigserial primary key, body jsonb)", connection);
            await create.ExecuteNonQueryAsync();
        }
        return await Pgbench(environment, $"INSERT INTO {environment.Name}.commits (body) VALUES ('{{\"type\":\"Purchased\",\"amount\":42}}');\n",
            clients, duration);
    }

    /// <summary>
    /// pgbench replaying one decision of the service per transaction, with the SQL Marten sends for it, into the
    /// service's own tables (its indexes and append function) after the service has stopped: the read of the profile
    /// document and the event-id lookup (with the stream's version, which the append function takes; one round trip),
    /// then one transaction (one round trip) of <c>mt_quick_append_events</c> with the rows of <paramref name="shape"/>
    /// (the event; a membership change and a decision record each in the measured share of decisions; it bumps
    /// <c>mt_streams.version</c>), the event id's row and the upsert of a profile document of the measured size. Each client has its own customers, as the service's batch writers
    /// gives each customer to one consumer at a time, so no transaction waits on another's row.
    /// </summary>
    public static async Task<double> DecisionsPerSecond(
        LoadEnvironment environment, DecisionShape shape, int customers, int clients, TimeSpan duration)
    {
        var schema = environment.Name;
        var stream = "'pgbench-:customer'";
        string Events(params DecisionShape.StoredEvent[] events) =>
            $"SELECT {schema}.mt_quick_append_events({stream}, 'customer_profile', '*DEFAULT*', " +
            $"ARRAY[{string.Join(", ", events.Select(_ => "gen_random_uuid()"))}], " +
            $"ARRAY[{string.Join(", ", events.Select(e => Literal(e.Type)))}]::varchar[], " +
            $"ARRAY[{string.Join(", ", events.Select(e => Literal(e.DotnetType)))}]::varchar[], " +
            $"ARRAY[{string.Join(", ", events.Select(e => Literal(e.Data) + "::jsonb"))}], " +
            $"ARRAY[{string.Join(", ", events.Select(_ => "NULL"))}]::bytea[], " +
            $"ARRAY[{string.Join(", ", events.Select(e => Literal(e.Headers) + "::jsonb"))}], :version)";
        var recordedId =
            $"INSERT INTO {schema}.{Segmentation.Service.Ingestion.RecordedEventIds.TableName} (event_id, customer_id, content_hash, recorded_at) " +
            $"VALUES (gen_random_uuid(), {stream}, '{new string('0', 64)}', now())";
        // Marten's upsert of a document (a new revision id each time).
        var upsert =
            $"INSERT INTO {schema}.mt_doc_customerprofile (id, data, mt_version, mt_dotnet_type, mt_last_modified) " +
            $"VALUES ({stream}, {Literal(shape.Profile)}::jsonb, gen_random_uuid(), {Literal(shape.ProfileDotnetType)}, transaction_timestamp()) " +
            $"ON CONFLICT (id) DO UPDATE SET data = excluded.data, mt_version = excluded.mt_version, " +
            $"mt_dotnet_type = excluded.mt_dotnet_type, mt_last_modified = excluded.mt_last_modified";
        string Decision(params DecisionShape.StoredEvent[] events) => $"BEGIN \\; {Events(events)} \\; {recordedId} \\; {upsert} \\; COMMIT;";
        var customersPerClient = Math.Max(1, customers / clients);
        var script = $"""
            \set customer :client_id * 1000000 + random(1, {customersPerClient})
            \set membership random(1, 1000)
            \set evaluated random(1, 1000)
            SELECT d.id, d.data, d.mt_version FROM {schema}.mt_doc_customerprofile AS d WHERE id = {stream} \; SELECT customer_id FROM {schema}.{Segmentation.Service.Ingestion.RecordedEventIds.TableName} WHERE event_id = (SELECT gen_random_uuid()) \; SELECT coalesce(max(version), 0) AS version FROM {schema}.mt_streams WHERE id = {stream} \gset
            \if :membership <= {PerMille(shape.MembershipsPerDecision)}
            \if :evaluated <= {PerMille(shape.EvaluationsPerDecision)}
            {Decision(shape.Recorded, shape.Membership, shape.Evaluated)}
            \else
            {Decision(shape.Recorded, shape.Membership)}
            \endif
            \elif :evaluated <= {PerMille(shape.EvaluationsPerDecision)}
            {Decision(shape.Recorded, shape.Evaluated)}
            \else
            {Decision(shape.Recorded)}
            \endif

            """;
        return await Pgbench(environment, script, clients, duration);
    }

    private static int PerMille(double share) => (int)Math.Round(Math.Min(1, share) * 1000);

    private static string Literal(string text) => $"'{text.Replace("'", "''", StringComparison.Ordinal)}'";

    private static async Task<double> Pgbench(LoadEnvironment environment, string script, int clients, TimeSpan duration)
    {
        var settings = new NpgsqlConnectionStringBuilder(environment.PostgresConnection);
        var scriptPath = Path.GetTempFileName();
        await File.WriteAllTextAsync(scriptPath, script);
        var pgbench = new ProcessStartInfo("/usr/lib/postgresql/15/bin/pgbench",
            ["-n", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", "2", "-T", ((int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture),
             "-f", scriptPath, "-h", settings.Host!, "-p", settings.Port.ToString(CultureInfo.InvariantCulture), "-U", settings.Username!, settings.Database!])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["PGPASSWORD"] = settings.Password },
        };
        using var process = Process.Start(pgbench)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        File.Delete(scriptPath);
        var tps = TpsLine().Match(await output);
        return tps.Success && process.ExitCode == 0 ? double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"pgbench failed: {await output}{await errors}");
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
