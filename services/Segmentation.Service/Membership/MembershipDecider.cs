using System.Diagnostics;
using Marten;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;

namespace Segmentation.Service.Membership;

/// <summary>
/// The one write path for a customer, used for a new event and for a time-triggered or post-activation evaluation:
/// read the stream for writing, let the engine decide on a copy of the profile's state, append the event (if any),
/// the membership changes and the evaluation record, and commit with the version read as the expected version.
/// That commit is the claim on the customer: a concurrent writer makes it fail with a concurrency error, and the
/// caller decides again from a fresh read, so no customer ever holds two segments of an exclusive group.
/// </summary>
public sealed class MembershipDecider(
    IDocumentSession session, ActiveRuleset rules, TimeProvider time, SegmentationMetrics metrics, ILogger<MembershipDecider> logger)
{
    public async Task Record(string customerId, CustomerEventRecorded recorded, CancellationToken cancellationToken)
    {
        var stream = await session.Events.FetchForWriting<CustomerProfile>(customerId, cancellationToken);
        if (stream.Aggregate?.HasRecorded(recorded.EventId) == true)
        {
            logger.LogInformation("Event {EventId} for customer {CustomerId} was already recorded; redelivery ignored",
                recorded.EventId, customerId);
            return;
        }

        var state = stream.Aggregate?.State.Clone() ?? new CustomerState { CustomerId = customerId };
        // An event dated slightly ahead of this clock (within the accepted skew) is evaluated at its own time.
        var now = Latest(time.GetUtcNow(), recorded.OccurredAt, state.EvaluatedAt);
        var current = rules.Current;
        var result = Decide(() => current.Engine.Apply(state, recorded.ToRuleEvent(), now));

        stream.AppendOne(recorded);
        stream.AppendMany(MembershipEvents(current, result, now));
        await session.SaveChangesAsync(cancellationToken);
        metrics.EventConsumed(recorded.Type);
    }

    /// <summary>Evaluates with no new event; returns false when the customer does not exist.</summary>
    public async Task<bool> Reevaluate(string customerId, CancellationToken cancellationToken)
    {
        var stream = await session.Events.FetchForWriting<CustomerProfile>(customerId, cancellationToken);
        if (stream.Aggregate is null) return false;

        var now = Latest(time.GetUtcNow(), stream.Aggregate.State.EvaluatedAt);
        var current = rules.Current;
        var result = Decide(() => current.Engine.Evaluate(stream.Aggregate.State.Clone(), now));
        stream.AppendMany(MembershipEvents(current, result, now));
        await session.SaveChangesAsync(cancellationToken);
        return true;
    }

    private EvaluationResult Decide(Func<EvaluationResult> evaluate)
    {
        var started = Stopwatch.GetTimestamp();
        var result = evaluate();
        metrics.Evaluation(Stopwatch.GetElapsedTime(started));
        return result;
    }

    private static IEnumerable<object> MembershipEvents(LoadedRuleset current, EvaluationResult result, DateTimeOffset now)
    {
        foreach (var change in result.Changes)
        {
            var channel = current.Segment(change.Segment)?.Channel;
            yield return change.Kind == MembershipChangeKind.Entered
                ? new CustomerEnteredSegment(change.Segment, change.Group, channel, current.Version, change.At,
                    ClaimsGroup: change.Group is { } group && current.Ruleset.Groups.TryGetValue(group, out var g) && g.Exclusive)
                : new CustomerExitedSegment(change.Segment, change.Group, channel, current.Version, change.At);
        }

        var state = result.State;
        yield return new CustomerEvaluated(
            now,
            current.Version,
            state.RulesetFingerprint ?? current.Ruleset.Fingerprint,
            [.. state.Qualifying.Order(StringComparer.Ordinal)],
            new Dictionary<string, DateTimeOffset>(state.RecheckAt, StringComparer.Ordinal),
            new Dictionary<string, DateTimeOffset>(state.CooldownWaits, StringComparer.Ordinal),
            result.Blocked,
            result.NextCheckAt);
    }

    private static DateTimeOffset Latest(DateTimeOffset clock, params DateTimeOffset?[] others) =>
        others.Aggregate(clock, (latest, other) => other > latest ? other.Value : latest);
}
