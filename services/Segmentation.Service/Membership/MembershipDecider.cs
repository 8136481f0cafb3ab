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
    IDocumentSession session,
    ActiveRuleset rules,
    RecordedEventIds recordedEventIds,
    TimeProvider time,
    SegmentationMetrics metrics,
    ILogger<MembershipDecider> logger)
{
    /// <summary>
    /// Records a new event and decides; ignores a redelivery; refuses an event id already recorded for another
    /// customer or with other content (<see cref="DuplicateEventIdException"/>).
    /// </summary>
    public async Task Record(AcceptedCustomerEvent accepted, CancellationToken cancellationToken)
    {
        var (customerId, recorded) = (accepted.CustomerId, accepted.Event);
        using var activity = StartDecision(customerId, "segmentation.decide");
        activity?.SetTag("event.type", recorded.Type);
        activity?.SetTag("event.id", recorded.EventId);
        if (await recordedEventIds.Find(recorded.EventId, cancellationToken) is { } earlier)
        {
            RefuseUnlessRedelivery(accepted, earlier);
            LogRedelivery(activity, accepted);
            return;
        }

        var stream = await session.Events.FetchForWriting<CustomerProfile>(customerId, cancellationToken);
        // Events stored before the id table existed have no row; their redelivery is still recognised in the history.
        if (stream.Aggregate?.Holds(recorded) == true)
        {
            LogRedelivery(activity, accepted);
            return;
        }

        var state = stream.Aggregate?.State.Clone() ?? new CustomerState { CustomerId = customerId };
        // An event dated slightly ahead of this clock (within the accepted skew) is evaluated at its own time.
        var now = Latest(time.GetUtcNow(), recorded.OccurredAt, state.EvaluatedAt);
        var current = rules.Current;
        var result = Decide(activity, current, () => current.Engine.Apply(state, recorded.ToRuleEvent(), now));

        stream.AppendOne(recorded);
        stream.AppendMany(MembershipEvents(current, result, now, recorded.OccurredAt));
        recordedEventIds.Insert(session, accepted, time.GetUtcNow());
        await session.SaveChangesAsync(cancellationToken);
        metrics.EventConsumed(recorded.Type);
    }

    private void RefuseUnlessRedelivery(AcceptedCustomerEvent accepted, RecordedEventId earlier)
    {
        var otherCustomer = earlier.CustomerId != accepted.CustomerId;
        if (!otherCustomer && earlier.ContentHash == accepted.ContentHash) return;

        var reason = otherCustomer
            ? $"event id {accepted.EventIdAsSent} was already recorded for customer {earlier.CustomerId}; an event id names one occurrence across all customers"
            : $"event id {accepted.EventIdAsSent} was already recorded for customer {earlier.CustomerId} with different content";
        metrics.ConflictingEventId(otherCustomer ? "customer" : "content");
        logger.LogWarning("Event {EventId} for customer {CustomerId} refused: {Reason}", accepted.Event.EventId, accepted.CustomerId, reason);
        throw new DuplicateEventIdException(reason);
    }

    private void LogRedelivery(Activity? activity, AcceptedCustomerEvent accepted)
    {
        logger.LogInformation("Event {EventId} for customer {CustomerId} was already recorded; redelivery ignored",
            accepted.Event.EventId, accepted.CustomerId);
        activity?.SetTag("outcome", "duplicate");
    }

    /// <summary>Evaluates with no new event; returns false when the customer does not exist.</summary>
    public async Task<bool> Reevaluate(string customerId, CancellationToken cancellationToken)
    {
        using var activity = StartDecision(customerId, "segmentation.reevaluate");
        var stream = await session.Events.FetchForWriting<CustomerProfile>(customerId, cancellationToken);
        if (stream.Aggregate is null) return false;

        var now = Latest(time.GetUtcNow(), stream.Aggregate.State.EvaluatedAt);
        var current = rules.Current;
        var result = Decide(activity, current, () => current.Engine.Evaluate(stream.Aggregate.State.Clone(), now));
        stream.AppendMany(MembershipEvents(current, result, now, causeOccurredAt: null));
        await session.SaveChangesAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// The span of one decision. Its trace context is stored with the appended events, so the relay's publish of
    /// the resulting segment events continues this trace.
    /// </summary>
    private Activity? StartDecision(string customerId, string name)
    {
        var activity = SegmentationTelemetry.Source.StartActivity(name);
        activity?.SetTag("customer.id", customerId);
        if (activity is not null) session.SetHeader(SegmentationTelemetry.TraceParentHeader, activity.Id!);
        return activity;
    }

    private EvaluationResult Decide(Activity? decision, LoadedRuleset current, Func<EvaluationResult> evaluate)
    {
        EvaluationResult result;
        using (var evaluation = SegmentationTelemetry.Source.StartActivity("segmentation.evaluate"))
        {
            var started = Stopwatch.GetTimestamp();
            result = evaluate();
            metrics.Evaluation(Stopwatch.GetElapsedTime(started));
            evaluation?.SetTag("ruleset.version", current.Version);
        }

        foreach (var blocked in result.Blocked) metrics.Blocked(blocked.Segment, blocked.HeldBy is null ? "cooldown" : "held");
        if (decision is not null)
        {
            decision.SetTag("ruleset.version", current.Version);
            decision.SetTag("outcome", Outcome(result));
            foreach (var change in result.Changes)
            {
                decision.AddEvent(new ActivityEvent(change.Kind == MembershipChangeKind.Entered ? "segment.entered" : "segment.exited",
                    tags: new ActivityTagsCollection { ["segment"] = change.Segment, ["group"] = change.Group }));
            }
        }
        return result;
    }

    private static string Outcome(EvaluationResult result) =>
        result.Changes.Count == 0 && result.Blocked.Count == 0
            ? "unchanged"
            : string.Join("; ", result.Changes
                .Select(c => $"{(c.Kind == MembershipChangeKind.Entered ? "entered" : "exited")} {c.Segment}")
                .Concat(result.Blocked.Select(b => $"{b.Segment} blocked: {b.Reason}")));

    private static IEnumerable<object> MembershipEvents(
        LoadedRuleset current, EvaluationResult result, DateTimeOffset now, DateTimeOffset? causeOccurredAt)
    {
        foreach (var change in result.Changes)
        {
            var channel = current.Segment(change.Segment)?.Channel;
            yield return change.Kind == MembershipChangeKind.Entered
                ? new CustomerEnteredSegment(change.Segment, change.Group, channel, current.Version, change.At,
                    ClaimsGroup: change.Group is { } group && current.Ruleset.Groups.TryGetValue(group, out var g) && g.Exclusive,
                    causeOccurredAt)
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
