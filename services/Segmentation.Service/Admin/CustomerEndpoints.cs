using Marten;
using Npgsql;
using Segmentation.Service.Hosting;
using Segmentation.Service.Profiles;

namespace Segmentation.Service.Admin;

public static class CustomerEndpoints
{
    public static IEndpointRouteBuilder MapCustomerEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/customers/{customerId}", async (string customerId, IQuerySession session, CancellationToken ct) =>
            await session.LoadAsync<CustomerProfile>(customerId, ct) is { } profile
                ? Results.Ok(CustomerView.Of(profile))
                : Results.NotFound(new { error = $"no customer '{customerId}'" }));

        app.MapGet("/customers", async (IQuerySession session, CancellationToken ct, int take = 20) =>
            Results.Ok(await session.Query<CustomerProfile>().OrderBy(p => p.Id).Take(Math.Clamp(take, 1, 1000))
                .Select(p => p.Id).ToListAsync(ct)));

        app.MapGet("/stats", async (NpgsqlDataSource database, SegmentationSettings settings, CancellationToken ct) =>
        {
            var schema = settings.SchemaName;
            await using var customers = database.CreateCommand($"SELECT count(*) FROM {schema}.mt_doc_customerprofile");
            await using var events = database.CreateCommand(
                $"SELECT count(*) FROM {schema}.mt_events WHERE type = 'customer_event_recorded'");
            await using var memberships = database.CreateCommand($"""
                SELECT data->>'Segment', count(*) FILTER (WHERE type = 'customer_entered_segment'),
                       count(*) FILTER (WHERE type = 'customer_exited_segment')
                FROM {schema}.mt_events
                WHERE type IN ('customer_entered_segment', 'customer_exited_segment')
                GROUP BY 1 ORDER BY 1
                """);
            var segments = new List<object>();
            await using (var reader = await memberships.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                    segments.Add(new { segment = reader.GetString(0), entered = reader.GetInt64(1), exited = reader.GetInt64(2) });
            }
            return Results.Ok(new
            {
                customers = (long)(await customers.ExecuteScalarAsync(ct))!,
                events = (long)(await events.ExecuteScalarAsync(ct))!,
                segments,
            });
        });
        return app;
    }
}

/// <summary>What the admin API shows of a customer.</summary>
public sealed record CustomerView(
    string CustomerId,
    IReadOnlyDictionary<string, Segmentation.Rules.Evaluation.Value> Attributes,
    IReadOnlyDictionary<string, EventTypeSummary> EventTypes,
    IReadOnlyDictionary<string, HeldSegment> Segments,
    IReadOnlyList<Segmentation.Rules.Membership.BlockedSegment> Blocked,
    string? RulesetVersion,
    DateTimeOffset? NextCheckAt)
{
    public static CustomerView Of(CustomerProfile profile) => new(
        profile.Id,
        profile.State.Attributes.ToDictionary(a => a.Key, a => a.Value.Value, StringComparer.Ordinal),
        profile.EventTypes,
        profile.Segments,
        profile.Blocked,
        profile.RulesetVersion,
        profile.NextCheckAt);
}
