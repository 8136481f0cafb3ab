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
/// load the profile (the bounded state of the last decision, at its stream version), refold it from the stream when
/// the active ruleset reads more than it keeps, let the engine decide on a copy, append the facts (the event, entries,
/// exits, and a decision record when the visible outcome changed) with the version read as the expected version, and
/// store the evolved profile in the same transaction. That append is the claim on the customer: a concurrent writer
/// makes it fail with a concurrency error, and the caller decides again from a fresh read, so no customer ever holds two
/// segments of an exclusive group.
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

        var profile = await session.LoadAsync<CustomerProfile>(customerId, cancellationToken);
        // Events stored before the id table existed have no row; their redelivery is still recognised in the history.
        if (profile?.Holds(recorded) == true)
        {
            LogRedelivery(activity, accepted);
            return;
        }

        var current = rules.Current;
        var state = profile is null ? new CustomerState { CustomerId = customerId } : await Covered(profile, current, cancellationToken);
        // An event dated slightly ahead of this clock (within the accepted skew) is evaluated at its own time.
        var now = Latest(time.GetUtcNow(), recorded.OccurredAt, state.EvaluatedAt);
        var result = Decide(activity, current, () => current.Engine.Apply(state, recorded.ToRuleEvent(), now));

        Commit(customerId, profile, current, result, [recorded, .. MembershipEvents(current, result, recorded.OccurredAt)], now, activity);
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
        if (await session.LoadAsync<CustomerProfile>(customerId, cancellationToken) is not { } profile) return false;

        var current = rules.Current;
        var state = await Covered(profile, current, cancellationToken);
        var now = Latest(time.GetUtcNow(), state.EvaluatedAt);
        var result = Decide(activity, current, () => current.Engine.Evaluate(state, now));
        Commit(customerId, profile, current, result, [.. MembershipEvents(current, result, causeOccurredAt: null)], now, activity);
        await session.SaveChangesAsync(cancellationToken);
        return true;
    }

    /// <summary>A copy of the profile's state that keeps what the ruleset reads, refolded from the stream when it must be.</summary>
    private async Task<CustomerState> Covered(CustomerProfile profile, LoadedRuleset current, CancellationToken cancellationToken)
    {
        var (state, refoldedFrom) = await CustomerStreams.CoveredState(session, profile, current.Engine, cancellationToken);
        if (refoldedFrom is { } events)
        {
            metrics.ProfileRefolded(events);
            logger.LogDebug("Customer {CustomerId}: profile refolded from {Events} events for ruleset {Version}", profile.Id, events, current.Version);
        }

        return state;
    }

    /// <summary>
    /// Appends the decision's facts (with a record of the outcome when what the profile shows changed) expecting the
    /// version the profile was read at, and stores the profile evolved by them, in the session's one transaction.
    /// </summary>
    private void Commit(
        string customerId, CustomerProfile? profile, LoadedRuleset current, EvaluationResult result, List<object> facts, DateTimeOffset now, Activity? decision)
    {
        profile ??= new CustomerProfile { Id = customerId };
        if (!profile.Shows(result.Blocked, result.NextCheckAt, current.Version))
        {
            facts.Add(new CustomerEvaluated(now, current.Version, result.Blocked, result.NextCheckAt));
        }

        if (facts.Count == 0) return;
        var version = profile.Version + facts.Count;
        if (profile.Version == 0) session.Events.StartStream(customerId, facts);
        else session.Events.Append(customerId, version, facts);
        profile.Evolve(result.State, facts, version, decision?.Id);
        session.Store(profile);
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

    private static IEnumerable<object> MembershipEvents(LoadedRuleset current, EvaluationResult result, DateTimeOffset? causeOccurredAt)
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
    }

    private static DateTimeOffset Latest(DateTimeOffset clock, params DateTimeOffset?[] others) =>
        others.Aggregate(clock, (latest, other) => other > latest ? other.Value : latest);
}
