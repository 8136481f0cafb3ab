using Marten;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Membership;
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

        app.MapGet("/stats", async (IQuerySession session, CancellationToken ct) =>
        {
            var entered = await session.Events.QueryRawEventDataOnly<CustomerEnteredSegment>()
                .GroupBy(e => e.Segment).Select(g => new SegmentCount(g.Key, g.Count())).ToListAsync(ct);
            var exited = await session.Events.QueryRawEventDataOnly<CustomerExitedSegment>()
                .GroupBy(e => e.Segment).Select(g => new SegmentCount(g.Key, g.Count())).ToListAsync(ct);
            var exits = exited.ToDictionary(e => e.Segment, e => e.Count, StringComparer.Ordinal);
            return Results.Ok(new
            {
                customers = await session.Query<CustomerProfile>().CountAsync(ct),
                events = await session.Events.QueryRawEventDataOnly<CustomerEventRecorded>().CountAsync(ct),
                segments = entered.Select(e => e.Segment).Union(exits.Keys).Order(StringComparer.Ordinal).Select(segment => new
                {
                    segment,
                    entered = entered.FirstOrDefault(e => e.Segment == segment)?.Count ?? 0,
                    exited = exits.GetValueOrDefault(segment),
                }),
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

internal sealed record SegmentCount(string Segment, int Count);
