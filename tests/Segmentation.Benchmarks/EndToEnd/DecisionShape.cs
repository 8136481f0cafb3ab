using Npgsql;

namespace Segmentation.Benchmarks.EndToEnd;

/// <summary>
/// What one decision of the service wrote in a run, read back from its tables: for each stored event type the row
/// nearest the type's mean size, how many membership changes a stored event led to, and a profile document.
/// </summary>
internal sealed record DecisionShape(
    DecisionShape.StoredEvent Recorded,
    DecisionShape.StoredEvent Evaluated,
    DecisionShape.StoredEvent Membership,
    double MembershipsPerDecision,
    double EvaluationsPerDecision,
    string Profile,
    string ProfileDotnetType,
    int ProfileStoredBytes,
    double MeanProfileLength)
{
    internal sealed record StoredEvent(string Type, string DotnetType, string Data, string Headers);

    /// <summary>
    /// Reads the shape from the service's schema; the profile is the stored one whose JSON text length is nearest
    /// <paramref name="profileLength"/> (the mean of all profiles when null).
    /// </summary>
    public static async Task<DecisionShape> Measure(LoadEnvironment environment, int? profileLength)
    {
        var schema = environment.Name;
        await using var connection = new NpgsqlConnection(environment.PostgresConnection);
        await connection.OpenAsync();

        var events = new Dictionary<string, StoredEvent>();
        await using (var typical = new NpgsqlCommand($"""
            SELECT DISTINCT ON (e.type) e.type, e.mt_dotnet_type, e.data::text, coalesce(e.headers::text, 'null')
            FROM {schema}.mt_events e
            JOIN (SELECT type, avg(length(data::text)) AS mean FROM {schema}.mt_events GROUP BY type) t ON t.type = e.type
            ORDER BY e.type, abs(length(e.data::text) - t.mean), e.seq_id
            """, connection))
        await using (var reader = await typical.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                events[reader.GetString(0)] = new StoredEvent(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3));
        }

        await using var counts = new NpgsqlCommand($"""
            SELECT count(*) FILTER (WHERE type = 'customer_event_recorded'),
                   count(*) FILTER (WHERE type IN ('customer_entered_segment', 'customer_exited_segment')),
                   count(*) FILTER (WHERE type = 'customer_evaluated')
            FROM {schema}.mt_events
            """, connection);
        long recorded, memberships, evaluations;
        await using (var reader = await counts.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            (recorded, memberships, evaluations) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        }

        await using var mean = new NpgsqlCommand($"SELECT avg(length(data::text))::float8 FROM {schema}.mt_doc_customerprofile", connection);
        var meanLength = (double)(await mean.ExecuteScalarAsync())!;
        await using var profile = new NpgsqlCommand($"""
            SELECT data::text, mt_dotnet_type, pg_column_size(data) FROM {schema}.mt_doc_customerprofile
            ORDER BY abs(length(data::text) - @length), id LIMIT 1
            """, connection);
        profile.Parameters.AddWithValue("length", profileLength ?? meanLength);
        await using var profileReader = await profile.ExecuteReaderAsync();
        await profileReader.ReadAsync();

        var entered = events.GetValueOrDefault("customer_entered_segment") ?? events.GetValueOrDefault("customer_exited_segment");
        return new DecisionShape(
            events["customer_event_recorded"],
            events["customer_evaluated"],
            entered ?? events["customer_evaluated"],
            entered is null ? 0 : (double)memberships / recorded,
            (double)evaluations / recorded,
            profileReader.GetString(0),
            profileReader.GetString(1),
            profileReader.GetInt32(2),
            meanLength);
    }

    public string Describe() =>
        $"profile document {Profile.Length:N0} chars of JSON ({ProfileStoredBytes:N0} bytes stored; mean of the run's profiles " +
        $"{MeanProfileLength:N0} chars), a {Recorded.Data.Length}-char event row, a {Evaluated.Data.Length}-char decision record in " +
        $"{EvaluationsPerDecision:P0} and a {Membership.Data.Length}-char membership row in {MembershipsPerDecision:P0} of decisions";
}
