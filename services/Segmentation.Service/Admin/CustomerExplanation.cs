using Marten;
using Segmentation.Rules.Membership;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;

namespace Segmentation.Service.Admin;

/// <summary>
/// <c>GET /customers/{id}/explain[?segment=S]</c>: the customer's current state evaluated under the active ruleset at
/// now, on a copy (refolded from the stream when the ruleset reads more than the profile keeps), writing nothing. Per
/// segment: whether it qualifies, every sub-expression's value, held since / blocked (by whom, or the cooldown's end),
/// and the next instant its condition can change with no new event.
/// </summary>
public static class CustomerExplanationEndpoint
{
    public static IEndpointRouteBuilder MapCustomerExplanation(this IEndpointRouteBuilder app)
    {
        app.MapGet("/customers/{customerId}/explain", async (
            string customerId, string? segment, IQuerySession session, ActiveRuleset rules, TimeProvider time, CancellationToken ct) =>
        {
            if (await session.LoadAsync<CustomerProfile>(customerId, ct) is not { } profile)
                return Results.NotFound(new { error = $"no customer '{customerId}'" });
            var current = rules.Current;
            if (segment is not null && current.Segment(segment) is null)
                return Results.NotFound(new { error = $"no segment '{segment}' in the active ruleset {current.Version}" });

            var (state, _) = await CustomerStreams.CoveredState(session, profile, current.Engine, ct);
            var clock = time.GetUtcNow();
            var now = state.EvaluatedAt > clock ? state.EvaluatedAt.Value : clock;
            var result = current.Engine.Evaluate(state, now);
            var names = segment is null ? current.Ruleset.Segments.Select(s => s.Name) : [segment];
            return Results.Ok(new CustomerExplanation(customerId, now, current.Version, result.NextCheckAt,
                [.. names.Select(name => Explain(current.Engine, state, result.Blocked, name, now))]));
        });
        return app;
    }

    private static SegmentState Explain(
        SegmentEngine engine, CustomerState state, IReadOnlyList<BlockedSegment> blocked, string segment, DateTimeOffset now) => new(
            engine.Explain(state, segment, now),
            state.Held.TryGetValue(segment, out var since) ? since : null,
            blocked.FirstOrDefault(b => b.Segment == segment),
            state.RecheckAt.TryGetValue(segment, out var recheck) ? recheck : null);
}

public sealed record CustomerExplanation(
    string CustomerId, DateTimeOffset At, string RulesetVersion, DateTimeOffset? NextCheckAt, IReadOnlyList<SegmentState> Segments);

/// <summary>One segment explained: the condition's values, held since, what blocks it, when its condition can next change.</summary>
public sealed record SegmentState(SegmentExplanation Explanation, DateTimeOffset? HeldSince, BlockedSegment? Blocked, DateTimeOffset? NextChangeAt);
