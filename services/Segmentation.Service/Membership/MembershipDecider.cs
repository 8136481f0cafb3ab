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
        using var activity = StartDecision(customerId, "segmentation.decide");
        activity?.SetTag("event.type", recorded.Type);
        activity?.SetTag("event.id", recorded.EventId);
        var stream = await session.Events.FetchForWriting<CustomerProfile>(customerId, cancellationToken);
        if (stream.Aggregate?.HasRecorded(recorded.EventId) == true)
        {
            logger.LogInformation("Event {EventId} for customer {CustomerId} was already recorded; redelivery ignored",
                recorded.EventId, customerId);
            activity?.SetTag("outcome", "duplicate");
            return;
        }

        var state = stream.Aggregate?.State.Clone() ?? new CustomerState { CustomerId = customerId };
        // An event dated slightly ahead of this clock (within the accepted skew) is evaluated at its own time.
        var now = Latest(time.GetUtcNow(), recorded.OccurredAt, state.EvaluatedAt);
        var current = rules.Current;
        var result = Decide(activity, current, () => current.Engine.Apply(state, recorded.ToRuleEvent(), now));

        stream.AppendOne(recorded);
        stream.AppendMany(MembershipEvents(current, result, now, recorded.OccurredAt));
        await session.SaveChangesAsync(cancellationToken);
        metrics.EventConsumed(recorded.Type);
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
