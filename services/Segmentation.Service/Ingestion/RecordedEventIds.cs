using Marten;
using Npgsql;
using Weasel.Postgresql.Tables;

namespace Segmentation.Service.Ingestion;

/// <summary>
/// The service's own table of every event id it has stored, with the customer and the content hash: how a
/// redelivery (same id, customer and content) is told from a reused id (another customer, or other content) with one
/// index lookup. Event ids are global: one id names one occurrence across all customers. A row is inserted in the
/// same transaction as the event's append, so the table and the event log never disagree; its primary key makes the
/// second of two concurrent first deliveries of one id fail, and that one is retried and then finds the row.
/// </summary>
public sealed class RecordedEventIds(NpgsqlDataSource database, Hosting.SegmentationSettings settings)
{
    public const string TableName = "recorded_event_ids";

    /// <summary>The table, created and kept up to date by Marten with the store's own schema objects.</summary>
    public static Table Definition(string schema)
    {
        var table = new Table($"{schema}.{TableName}");
        table.AddColumn<Guid>("event_id").AsPrimaryKey();
        table.AddColumn<string>("customer_id").NotNull();
        table.AddColumn<string>("content_hash").NotNull();
        table.AddColumn("recorded_at", "timestamptz").NotNull();
        return table;
    }

    /// <summary>The recorded rows among <paramref name="eventIds"/>, in one index lookup.</summary>
    public async Task<Dictionary<Guid, RecordedEventId>> Find(IReadOnlyCollection<Guid> eventIds, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            $"SELECT event_id, customer_id, content_hash FROM {settings.SchemaName}.{TableName} WHERE event_id = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = eventIds.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var found = new Dictionary<Guid, RecordedEventId>();
        while (await reader.ReadAsync(cancellationToken))
            found[reader.GetGuid(0)] = new RecordedEventId(reader.GetString(1), reader.GetString(2));
        return found;
    }

    /// <summary>Queues the rows of a commit's new events, in one statement, with the session's other changes.</summary>
    public void Insert(IDocumentSession session, IReadOnlyList<AcceptedCustomerEvent> accepted, DateTimeOffset recordedAt) =>
        session.QueueSqlCommand(
            $"INSERT INTO {settings.SchemaName}.{TableName} (event_id, customer_id, content_hash, recorded_at) " +
            "SELECT event_id, customer_id, content_hash, ? FROM unnest(?, ?, ?) AS recorded(event_id, customer_id, content_hash)",
            recordedAt,
            accepted.Select(a => a.Event.EventId).ToArray(),
            accepted.Select(a => a.CustomerId).ToArray(),
            accepted.Select(a => a.ContentHash).ToArray());

    /// <summary>Whether a commit failed because a concurrent delivery recorded the same event id first.</summary>
    public static bool IsConcurrentFirstRecord(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, TableName: TableName }) return true;
        }
        return false;
    }
}

public sealed record RecordedEventId(string CustomerId, string ContentHash);

/// <summary>An event id already recorded for another customer, or for the same customer with other content.</summary>
public sealed class DuplicateEventIdException(string reason) : Exception($"Duplicate event id: {reason}");
