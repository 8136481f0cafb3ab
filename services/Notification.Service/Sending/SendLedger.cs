using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using SegmentationEvents.Contracts;

namespace Notification.Service.Sending;

public enum SendOutcome
{
    Sent,
    Duplicate,
    RefusedByCooldown,
}

public sealed record SendRecord(
    Guid MessageId, string CustomerId, string Segment, string? Group, string Channel,
    string RulesetVersion, DateTimeOffset EnteredAt, DateTimeOffset SentAt);

public sealed record RefusalRecord(
    Guid MessageId, string CustomerId, string Segment, string? Group, string Channel,
    string RulesetVersion, DateTimeOffset EnteredAt, DateTimeOffset RefusedAt, string Reason, DateTimeOffset? LastSentAt);

public sealed record SendSummaryRow(string Segment, string Channel, long Sent, long Refused);

/// <summary>
/// Decides and records one send per message id. The decision is final per id: a redelivered
/// message that was sent or refused before is a duplicate and changes nothing.
/// </summary>
public sealed class SendLedger(NotificationDatabase database, IOptions<NotificationOptions> options, TimeProvider time)
{
    private readonly string _schema = database.Schema;

    public async Task<SendOutcome> Record(Guid messageId, SegmentEntered entry, CancellationToken cancellationToken)
    {
        var channel = entry.Channel ?? throw new ArgumentException("An entry without a channel asks for no send.", nameof(entry));
        var cooldown = options.Value.CooldownFor(entry.Group);

        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        if (cooldown is not null)
        {
            // One decision at a time per customer and group, across instances. The lock is taken by its own
            // statement so that the next statements (read committed) see every send committed before it.
            await using var lockCommand = new NpgsqlCommand(
                "SELECT pg_advisory_xact_lock(hashtextextended(@key, 0))", connection, transaction);
            lockCommand.Parameters.AddWithValue("key", $"notification/{_schema}/{entry.CustomerId}/{entry.Group}");
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }

        // Already decided (sent or refused) by an earlier delivery of the same message id?
        await using (var decided = new NpgsqlCommand($"""
            SELECT EXISTS (SELECT 1 FROM {_schema}.sends WHERE message_id = @id)
                OR EXISTS (SELECT 1 FROM {_schema}.refused WHERE message_id = @id)
            """, connection, transaction))
        {
            decided.Parameters.AddWithValue("id", messageId);
            if ((bool)(await decided.ExecuteScalarAsync(cancellationToken))!)
            {
                await transaction.CommitAsync(cancellationToken);
                return SendOutcome.Duplicate;
            }
        }

        var now = time.GetUtcNow();
        if (cooldown is { } window)
        {
            await using var last = new NpgsqlCommand(
                $"SELECT max(sent_at) FROM {_schema}.sends WHERE customer_id = @customer AND grp = @group",
                connection, transaction);
            last.Parameters.AddWithValue("customer", entry.CustomerId);
            last.Parameters.AddWithValue("group", entry.Group!);
            if (await last.ExecuteScalarAsync(cancellationToken) is DateTime lastSent
                && now - new DateTimeOffset(lastSent, TimeSpan.Zero) < window)
            {
                await using var refuse = new NpgsqlCommand($"""
                    INSERT INTO {_schema}.refused
                        (message_id, customer_id, segment, grp, channel, ruleset_version, entered_at, refused_at, reason, last_sent_at)
                    VALUES (@id, @customer, @segment, @group, @channel, @ruleset, @entered, @now, 'cooldown', @last)
                    ON CONFLICT (message_id) DO NOTHING
                    """, connection, transaction);
                AddEntryParameters(refuse, messageId, entry, channel, now);
                refuse.Parameters.AddWithValue("last", new DateTimeOffset(lastSent, TimeSpan.Zero));
                var refusedRows = await refuse.ExecuteNonQueryAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return refusedRows == 1 ? SendOutcome.RefusedByCooldown : SendOutcome.Duplicate;
            }
        }

        // The send itself; the primary key makes a concurrent delivery of the same id a no-op.
        await using var send = new NpgsqlCommand($"""
            INSERT INTO {_schema}.sends
                (message_id, customer_id, segment, grp, channel, ruleset_version, entered_at, sent_at)
            VALUES (@id, @customer, @segment, @group, @channel, @ruleset, @entered, @now)
            ON CONFLICT (message_id) DO NOTHING
            """, connection, transaction);
        AddEntryParameters(send, messageId, entry, channel, now);
        var sentRows = await send.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return sentRows == 1 ? SendOutcome.Sent : SendOutcome.Duplicate;
    }

    /// <summary>The sends to one customer in the order they were made (or the latest 1000 of all customers).</summary>
    public async Task<IReadOnlyList<SendRecord>> Sends(string? customerId, CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand($"""
            SELECT message_id, customer_id, segment, grp, channel, ruleset_version, entered_at, sent_at
            FROM (SELECT * FROM {_schema}.sends WHERE @customer::text IS NULL OR customer_id = @customer
                  ORDER BY sent_at DESC, message_id LIMIT 1000) latest
            ORDER BY sent_at, message_id
            """);
        command.Parameters.Add(new NpgsqlParameter("customer", NpgsqlDbType.Text) { Value = (object?)customerId ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var sends = new List<SendRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            sends.Add(new SendRecord(
                reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4), reader.GetString(5),
                reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7)));
        }
        return sends;
    }

    /// <summary>The messages refused to one customer (or the latest 1000 of all customers).</summary>
    public async Task<IReadOnlyList<RefusalRecord>> Refusals(string? customerId, CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand($"""
            SELECT message_id, customer_id, segment, grp, channel, ruleset_version, entered_at, refused_at, reason, last_sent_at
            FROM (SELECT * FROM {_schema}.refused WHERE @customer::text IS NULL OR customer_id = @customer
                  ORDER BY refused_at DESC, message_id LIMIT 1000) latest
            ORDER BY refused_at, message_id
            """);
        command.Parameters.Add(new NpgsqlParameter("customer", NpgsqlDbType.Text) { Value = (object?)customerId ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var refusals = new List<RefusalRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            refusals.Add(new RefusalRecord(
                reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4), reader.GetString(5),
                reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7), reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9)));
        }
        return refusals;
    }

    /// <summary>Sent and refused counts per segment and channel.</summary>
    public async Task<IReadOnlyList<SendSummaryRow>> Summary(CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand($"""
            SELECT segment, channel, count(*) FILTER (WHERE sent), count(*) FILTER (WHERE NOT sent)
            FROM (SELECT segment, channel, true AS sent FROM {_schema}.sends
                  UNION ALL
                  SELECT segment, channel, false AS sent FROM {_schema}.refused) decisions
            GROUP BY segment, channel
            ORDER BY segment, channel
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<SendSummaryRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new SendSummaryRow(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3)));
        }
        return rows;
    }

    private static void AddEntryParameters(NpgsqlCommand command, Guid messageId, SegmentEntered entry, string channel, DateTimeOffset now)
    {
        command.Parameters.AddWithValue("id", messageId);
        command.Parameters.AddWithValue("customer", entry.CustomerId);
        command.Parameters.AddWithValue("segment", entry.Segment);
        command.Parameters.Add(new NpgsqlParameter("group", NpgsqlDbType.Text) { Value = (object?)entry.Group ?? DBNull.Value });
        command.Parameters.AddWithValue("channel", channel);
        command.Parameters.AddWithValue("ruleset", entry.RulesetVersion);
        command.Parameters.AddWithValue("entered", entry.EnteredAt.ToUniversalTime());
        command.Parameters.AddWithValue("now", now.ToUniversalTime());
    }
}
