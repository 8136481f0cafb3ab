using Notification.Service.Hosting;
using Npgsql;

namespace Notification.Service.Sending;

/// <summary>
/// This service's own PostgreSQL tables, in the schema from <see cref="NotificationSettings.SchemaName"/>:
/// <c>sends</c> (one row per message sent) and <c>refused</c> (one row per message refused by a cooldown).
/// Both are keyed by the MassTransit message id, which is the segmentation service's stored event id.
/// </summary>
public sealed class NotificationDatabase(NotificationSettings settings) : IAsyncDisposable
{
    public NpgsqlDataSource DataSource { get; } = NpgsqlDataSource.Create(settings.PostgresConnection);

    /// <summary>The schema name, already validated as a plain identifier (safe to splice into SQL).</summary>
    public string Schema { get; } = settings.SchemaName;

    /// <summary>Creates the schema and tables when missing; safe when several instances start at once.</summary>
    public async Task EnsureCreated(CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT pg_advisory_xact_lock(hashtextextended('notification-schema/' || @schema, 0));
            CREATE SCHEMA IF NOT EXISTS {Schema};
            CREATE TABLE IF NOT EXISTS {Schema}.sends (
                message_id      uuid PRIMARY KEY,
                customer_id     text NOT NULL,
                segment         text NOT NULL,
                grp             text NULL,
                channel         text NOT NULL,
                ruleset_version text NOT NULL,
                entered_at      timestamptz NOT NULL,
                sent_at         timestamptz NOT NULL
            );
            CREATE INDEX IF NOT EXISTS sends_customer_group_sent_at ON {Schema}.sends (customer_id, grp, sent_at DESC);
            CREATE TABLE IF NOT EXISTS {Schema}.refused (
                message_id      uuid PRIMARY KEY,
                customer_id     text NOT NULL,
                segment         text NOT NULL,
                grp             text NULL,
                channel         text NOT NULL,
                ruleset_version text NOT NULL,
                entered_at      timestamptz NOT NULL,
                refused_at      timestamptz NOT NULL,
                reason          text NOT NULL,
                last_sent_at    timestamptz NULL
            );
            CREATE INDEX IF NOT EXISTS refused_customer ON {Schema}.refused (customer_id);
            """, connection, transaction);
        command.Parameters.AddWithValue("schema", Schema);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}

/// <summary>Creates the tables before the bus starts consuming (registered ahead of MassTransit's hosted service).</summary>
internal sealed class NotificationSchemaInitializer(NotificationDatabase database) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => database.EnsureCreated(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
