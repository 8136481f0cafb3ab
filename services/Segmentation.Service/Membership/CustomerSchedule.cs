using Marten;
using Npgsql;
using Segmentation.Service.Hosting;
using Segmentation.Service.Profiles;
using Weasel.Postgresql.Tables;

namespace Segmentation.Service.Membership;

/// <summary>
/// The service's own table of when each customer must next be decided with no new event: one narrow row per customer
/// with the ruleset version of their last decision and their next check (<see cref="CustomerProfile.NextCheckAt"/>),
/// written in the same transaction as the decision, so it never disagrees with the profile. Due customers are found
/// through an index range on the due time and customers decided under another version through one on the version, so
/// a sweep costs what is due, not what exists. A sweeper leases the rows it takes (<c>FOR UPDATE SKIP LOCKED</c>):
/// instances take disjoint customers, and a crashed instance's lease runs out and the rows are taken again.
/// </summary>
public sealed class CustomerSchedule(NpgsqlDataSource database, SegmentationSettings settings)
{
    public const string TableName = "customer_schedule";
    public const string ReevaluationsTableName = "ruleset_reevaluations";

    private string Table => $"{settings.SchemaName}.{TableName}";

    /// <summary>The schedule and the activations' starting counts, created and kept up to date by Marten with the store's own schema objects.</summary>
    public static IEnumerable<Table> Definitions(string schema)
    {
        var table = new Table($"{schema}.{TableName}");
        table.AddColumn<string>("customer_id").AsPrimaryKey();
        table.AddColumn<string>("ruleset_version").NotNull();
        table.AddColumn("due_at", "timestamptz");
        table.AddColumn("leased_until", "timestamptz");
        table.AddColumn<string>("leased_by");
        table.Indexes.Add(new IndexDefinition($"ix_{TableName}_due_at") { Columns = ["due_at"], Predicate = "due_at IS NOT NULL" });
        table.Indexes.Add(new IndexDefinition($"ix_{TableName}_ruleset_version") { Columns = ["ruleset_version"] });
        yield return table;

        var reevaluations = new Table($"{schema}.{ReevaluationsTableName}");
        reevaluations.AddColumn<string>("ruleset_version").AsPrimaryKey();
        reevaluations.AddColumn("activated_at", "timestamptz").NotNull();
        // Which activation came last, whatever the clocks of the instances that made them said.
        reevaluations.AddColumn<long>("activation_order").NotNull();
        reevaluations.AddColumn<long>("customers").NotNull();
        yield return reevaluations;
    }

    /// <summary>Queues, with the decision's other changes, each written profile's row (its version and next check); leases are left as they are.</summary>
    public void Queue(IDocumentSession session, IReadOnlyCollection<CustomerProfile> decided) =>
        Upsert(session, [.. decided.Select(p => new ScheduledCustomer(p.Id, p.RulesetVersion, p.NextCheckAt))],
            "DO UPDATE SET ruleset_version = excluded.ruleset_version, due_at = excluded.due_at");

    /// <summary>Queues the rows of customers the schedule does not hold yet; rows already there are newer and kept.</summary>
    public void QueueMissing(IDocumentSession session, IReadOnlyCollection<ScheduledCustomer> customers) =>
        Upsert(session, customers, "DO NOTHING");

    private void Upsert(IDocumentSession session, IReadOnlyCollection<ScheduledCustomer> customers, string onConflict)
    {
        if (customers.Count == 0) return;
        session.QueueSqlCommand(
            $"INSERT INTO {Table} (customer_id, ruleset_version, due_at) " +
            $"SELECT * FROM unnest(?, ?, ?::timestamptz[]) ON CONFLICT (customer_id) {onConflict}",
            customers.Select(c => c.CustomerId).ToArray(),
            customers.Select(c => c.RulesetVersion ?? "").ToArray(),
            customers.Select(c => c.NextCheckAt).ToArray());
    }

    /// <summary>Queues the end of <paramref name="leasedBy"/>'s lease on these customers, and drops the rows of customers that no longer exist.</summary>
    public void Release(IDocumentSession session, IReadOnlyCollection<string> claimed, IReadOnlyCollection<string> missing, string leasedBy)
    {
        session.QueueSqlCommand(
            $"UPDATE {Table} SET leased_until = NULL, leased_by = NULL WHERE customer_id = ANY(?) AND leased_by = ?",
            claimed.ToArray(), leasedBy);
        if (missing.Count > 0) session.QueueSqlCommand($"DELETE FROM {Table} WHERE customer_id = ANY(?)", missing.ToArray());
    }

    /// <summary>
    /// Leases up to <paramref name="count"/> customers to <paramref name="leasedBy"/> until <paramref name="leaseUntil"/>:
    /// first those due at <paramref name="now"/>, earliest first, then (when <paramref name="staleFor"/> is given and is the
    /// version activated last) those last decided under another version. Rows another instance holds, locked or leased, are skipped.
    /// </summary>
    public async Task<IReadOnlyList<ClaimedCustomer>> Claim(
        DateTimeOffset now, string? staleFor, int count, DateTimeOffset leaseUntil, string leasedBy, CancellationToken cancellationToken)
    {
        const string Free = "(leased_until IS NULL OR leased_until <= $1)";
        var due = $"SELECT customer_id FROM {Table} WHERE due_at <= $1 AND {Free} ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED";
        if (staleFor is null) return await Lease($"candidates AS ({due})", now, staleFor, count, leaseUntil, leasedBy, cancellationToken);

        // One statement: the due first, then two ranges of the version index either side of the active version (each
        // index scan stops at the limit, and a range is read only when the batch is not full yet). Only a sweeper on
        // the version activated last re-evaluates: one that has not loaded it yet would undo the others' work.
        const string IsLatest = "$5 IN (SELECT ruleset_version FROM latest)";
        return await Lease(
            $"latest AS (SELECT ruleset_version FROM {settings.SchemaName}.{ReevaluationsTableName} ORDER BY activation_order DESC LIMIT 1), " +
            $"due AS ({due}), " +
            $"below AS (SELECT customer_id FROM {Table} WHERE ruleset_version < $5 AND {Free} AND {IsLatest} ORDER BY ruleset_version LIMIT $4 FOR UPDATE SKIP LOCKED), " +
            $"above AS (SELECT customer_id FROM {Table} WHERE ruleset_version > $5 AND {Free} AND {IsLatest} ORDER BY ruleset_version LIMIT $4 FOR UPDATE SKIP LOCKED), " +
            "candidates AS (SELECT customer_id FROM due UNION ALL SELECT customer_id FROM below UNION ALL SELECT customer_id FROM above)",
            now, staleFor, count, leaseUntil, leasedBy, cancellationToken);
    }

    private async Task<List<ClaimedCustomer>> Lease(
        string candidatesDefinition, DateTimeOffset now, string? version, int count, DateTimeOffset leaseUntil, string leasedBy, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            $"WITH {candidatesDefinition}, leased AS (" +
            $"UPDATE {Table} AS s SET leased_until = $2, leased_by = $3 FROM (SELECT customer_id FROM candidates LIMIT $4) AS c " +
            "WHERE s.customer_id = c.customer_id RETURNING s.customer_id, s.due_at, s.ruleset_version) " +
            "SELECT customer_id, due_at, ruleset_version FROM leased ORDER BY due_at NULLS LAST", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = leaseUntil });
        command.Parameters.Add(new NpgsqlParameter { Value = leasedBy });
        command.Parameters.Add(new NpgsqlParameter { Value = count });
        command.Parameters.Add(new NpgsqlParameter { Value = version ?? "" });
        // Planning the statement costs three times running it with nobody due: prepared once per pooled connection.
        await command.PrepareAsync(cancellationToken);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var claimed = new List<ClaimedCustomer>();
        while (await reader.ReadAsync(cancellationToken))
        {
            claimed.Add(new ClaimedCustomer(
                reader.GetString(0),
                reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1),
                reader.GetString(2)));
        }
        return claimed;
    }

    /// <summary>Queues the activation in force before the schedule existed, unless one is recorded.</summary>
    public void QueueActivationIfMissing(IDocumentSession session, string version, DateTimeOffset activatedAt) =>
        session.QueueSqlCommand(
            $"INSERT INTO {settings.SchemaName}.{ReevaluationsTableName} (ruleset_version, activated_at, customers, activation_order) " +
            $"SELECT ?, ?, 0, 1 WHERE NOT EXISTS (SELECT 1 FROM {settings.SchemaName}.{ReevaluationsTableName})",
            version, activatedAt);

    /// <summary>Queues, with an activation, its place after the earlier ones (the last is the active version) and the number of customers it has to re-evaluate.</summary>
    public void QueueActivation(IDocumentSession session, string version, DateTimeOffset activatedAt) =>
        session.QueueSqlCommand(
            $"INSERT INTO {settings.SchemaName}.{ReevaluationsTableName} (ruleset_version, activated_at, customers, activation_order) " +
            $"SELECT ?, ?, (SELECT count(*) FROM {Table}), " +
            $"(SELECT coalesce(max(activation_order), 0) + 1 FROM {settings.SchemaName}.{ReevaluationsTableName}) " +
            "ON CONFLICT (ruleset_version) DO UPDATE SET activated_at = excluded.activated_at, customers = excluded.customers, activation_order = excluded.activation_order",
            version, activatedAt);

    /// <summary>
    /// How far re-evaluation under <paramref name="version"/> is: customers at its activation and customers still decided
    /// under another version (counted through the version index, so the count costs what is left).
    /// </summary>
    public async Task<(long AtActivation, long Remaining)> Reevaluation(string version, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            $"SELECT (SELECT customers FROM {settings.SchemaName}.{ReevaluationsTableName} WHERE ruleset_version = $1), " +
            $"(SELECT count(*) FROM {Table} WHERE ruleset_version < $1) + (SELECT count(*) FROM {Table} WHERE ruleset_version > $1)");
        command.Parameters.Add(new NpgsqlParameter { Value = version });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.IsDBNull(0) ? 0 : reader.GetInt64(0), reader.GetInt64(1));
    }
}

/// <summary>A customer leased to one sweeper: when they were due (null: only their ruleset version is stale) and the version they were decided under.</summary>
public sealed record ClaimedCustomer(string CustomerId, DateTimeOffset? DueAt, string RulesetVersion);
