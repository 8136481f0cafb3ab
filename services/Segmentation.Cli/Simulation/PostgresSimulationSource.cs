using System.Data;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Simulation;

namespace Segmentation.Cli.Simulation;

/// <summary>
/// Reads what the live service stored, for a simulation: the profiles (<c>mt_doc_customerprofile</c>, whose
/// <c>State</c> is the engine's <see cref="CustomerState"/>), the recorded upstream events per customer
/// (<c>mt_events</c>) and the active ruleset. Every read runs in a READ ONLY repeatable-read transaction, so the
/// simulation sees one consistent snapshot and PostgreSQL itself refuses any write; rows come through a server-side
/// cursor in batches, so memory does not grow with the table.
/// </summary>
internal sealed partial class PostgresSimulationSource
{
    private const int FetchSize = 2_000;
    private const string RecordedEventType = "customer_event_recorded";

    private static readonly JsonSerializerOptions Stored = new() { PropertyNameCaseInsensitive = true };

    private readonly string connectionString;
    private readonly string schema;

    public PostgresSimulationSource(string connectionString, string schema)
    {
        if (!Identifier().IsMatch(schema))
        {
            throw new ArgumentException($"`{schema}` is not a plain PostgreSQL schema name", nameof(schema));
        }

        this.connectionString = connectionString;
        this.schema = schema;
    }

    /// <summary>Customers with a profile, for the progress bar.</summary>
    public Task<long> CountProfiles(CancellationToken cancellationToken) =>
        Scalar<long>($"SELECT count(*) FROM {schema}.mt_doc_customerprofile", cancellationToken);

    /// <summary>Customers with an event stream, for the progress bar.</summary>
    public Task<long> CountStreams(CancellationToken cancellationToken) =>
        Scalar<long>($"SELECT count(*) FROM {schema}.mt_streams", cancellationToken);

    /// <summary>The YAML and file name of the activated ruleset, or null when none was activated.</summary>
    public async Task<(string Yaml, string FileName, string Version)?> ActiveRuleset(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadOnly(cancellationToken);
        await using var command = new NpgsqlCommand(
            $"""
            SELECT r.data ->> 'Yaml', r.data ->> 'FileName', r.id
            FROM {schema}.mt_doc_rulesetactivation a JOIN {schema}.mt_doc_storedruleset r ON r.id = a.data ->> 'Version'
            WHERE a.id = 'active'
            """, connection.Connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), reader.GetString(1), reader.GetString(2)) : null;
    }

    public async IAsyncEnumerable<CustomerState> Profiles([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var row in Cursor($"SELECT data -> 'State' FROM {schema}.mt_doc_customerprofile WHERE data ? 'State'", cancellationToken))
        {
            yield return JsonSerializer.Deserialize<CustomerState>(row.GetString(0), Stored)
                ?? throw new InvalidDataException("a customer profile without a state");
        }
    }

    /// <summary>
    /// Each customer's recorded upstream events, one customer at a time (the rows come ordered by stream, so only one
    /// customer's events are held at once). The engine orders them by occurrence itself.
    /// </summary>
    public async IAsyncEnumerable<CustomerHistory> Histories([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? customerId = null;
        var events = new List<CustomerEvent>();
        await foreach (var row in Cursor(
            $"SELECT stream_id, data FROM {schema}.mt_events WHERE type = '{RecordedEventType}' ORDER BY stream_id, version", cancellationToken))
        {
            var streamId = row.GetString(0);
            if (customerId is not null && streamId != customerId)
            {
                yield return new CustomerHistory(customerId, events);
                events = [];
            }

            customerId = streamId;
            var stored = JsonSerializer.Deserialize<StoredEvent>(row.GetString(1), Stored)
                ?? throw new InvalidDataException($"an empty recorded event in stream {streamId}");
            events.Add(new CustomerEvent
            {
                EventId = stored.EventId.ToString(),
                Type = stored.Type,
                OccurredAt = stored.OccurredAt,
                Properties = stored.Properties ?? new Dictionary<string, Value>(StringComparer.Ordinal),
            });
        }

        if (customerId is not null)
        {
            yield return new CustomerHistory(customerId, events);
        }
    }

    /// <summary>The stored shape of <c>CustomerEventRecorded</c> (the service's type; the CLI does not reference the service).</summary>
    private sealed record StoredEvent(Guid EventId, string Type, DateTimeOffset OccurredAt, Dictionary<string, Value>? Properties);

    private async IAsyncEnumerable<NpgsqlDataReader> Cursor(string query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadOnly(cancellationToken);
        await using (var declare = new NpgsqlCommand($"DECLARE simulation_rows NO SCROLL CURSOR FOR {query}", connection.Connection))
        {
            await declare.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var fetch = new NpgsqlCommand($"FETCH {FetchSize} FROM simulation_rows", connection.Connection);
        while (true)
        {
            var rows = 0;
            await using (var reader = await fetch.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    rows++;
                    yield return reader;
                }
            }

            if (rows < FetchSize)
            {
                break;
            }
        }
    }

    private async Task<T> Scalar<T>(string query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadOnly(cancellationToken);
        await using var command = new NpgsqlCommand(query, connection.Connection);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private async Task<ReadOnlyConnection> OpenReadOnly(CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await using (var readOnly = new NpgsqlCommand("SET TRANSACTION READ ONLY", connection, transaction))
        {
            await readOnly.ExecuteNonQueryAsync(cancellationToken);
        }

        return new ReadOnlyConnection(connection, transaction);
    }

    /// <summary>A connection inside a read-only transaction that is rolled back (there is nothing to commit) on dispose.</summary>
    private sealed class ReadOnlyConnection(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public NpgsqlConnection Connection => connection;

        public async ValueTask DisposeAsync()
        {
            await transaction.RollbackAsync();
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex Identifier();
}
