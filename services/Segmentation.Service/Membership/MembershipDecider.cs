using System.Diagnostics;
using Marten;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;

namespace Segmentation.Service.Membership;

/// <summary>
/// The one write path, used for a batch of new events and for a time-triggered or post-activation evaluation: load
/// the profiles (the bounded state of each customer's last decision, at its stream version), refold one from the
/// stream when the active ruleset reads more than it keeps, let the engine decide on a copy, append the facts (the
/// event, entries, exits, and a decision record when the visible outcome changed) with the version read as the
/// expected version, and store the evolved profiles, all in the session's one transaction. That append is the claim
/// on the customer: a concurrent writer makes it fail with a concurrency error, the whole transaction rolls back, and
/// the caller decides again from a fresh read, so no customer ever holds two segments of an exclusive group.
/// </summary>
public sealed class MembershipDecider(
    IDocumentSession session,
    ActiveRuleset rules,
    RecordedEventIds recordedEventIds,
    CustomerSchedule schedule,
    TimeProvider time,
    SegmentationMetrics metrics,
    ILogger<MembershipDecider> logger)
{
    /// <summary>
    /// Records new events, several customers' and several of one customer's (in the order given), and commits their
    /// decisions in one transaction. Per event, the outcome: null when stored or when it is a redelivery (ignored),
    /// else the refusal of an event id already recorded for another customer or with other content
    /// (<see cref="DuplicateEventIdException"/>), which refuses that event only. A failed commit throws and stores nothing.
    /// </summary>
    public async Task<IReadOnlyList<DuplicateEventIdException?>> Record(IReadOnlyList<SubmittedEvent> batch, CancellationToken cancellationToken)
    {
        var current = rules.Current;
        var recorded = await recordedEventIds.Find([.. batch.Select(b => b.Accepted.Event.EventId).Distinct()], cancellationToken);
        var writes = (await session.LoadManyAsync<CustomerProfile>(cancellationToken, batch.Select(b => b.Accepted.CustomerId).Distinct()))
            .ToDictionary(p => p.Id, p => new PendingWrite(p), StringComparer.Ordinal);
        var outcomes = new DuplicateEventIdException?[batch.Count];
        var stored = new List<AcceptedCustomerEvent>(batch.Count);
        var decisions = new List<Activity>(batch.Count);
        try
        {
            for (var i = 0; i < batch.Count; i++)
            {
                var (accepted, consumedIn) = batch[i];
                var recordedEvent = accepted.Event;
                var activity = StartDecision(accepted.CustomerId, "segmentation.decide", consumedIn, decisions);
                activity?.SetTag("event.type", recordedEvent.Type);
                activity?.SetTag("event.id", recordedEvent.EventId);
                if (recorded.TryGetValue(recordedEvent.EventId, out var earlier))
                {
                    outcomes[i] = RefusalUnlessRedelivery(accepted, earlier);
                    if (outcomes[i] is null) LogRedelivery(activity, accepted);
                    continue;
                }

                if (!writes.TryGetValue(accepted.CustomerId, out var write))
                    writes[accepted.CustomerId] = write = PendingWrite.ForNewCustomer(accepted.CustomerId);
                // Events stored before the id table existed have no row; their redelivery is still recognised in the history.
                if (write.Profile.Holds(recordedEvent))
                {
                    LogRedelivery(activity, accepted);
                    continue;
                }

                var state = await Covered(write, current, cancellationToken);
                // An event dated slightly ahead of this clock (within the accepted skew) is evaluated at its own time.
                var now = Latest(time.GetUtcNow(), recordedEvent.OccurredAt, state.EvaluatedAt);
                var result = Decide(activity, current, () => current.Engine.Apply(state, recordedEvent.ToRuleEvent(), now));
                write.Add(current, result, [recordedEvent, .. MembershipEvents(current, result, recordedEvent.OccurredAt)], now, activity);
                recorded[recordedEvent.EventId] = new RecordedEventId(accepted.CustomerId, accepted.ContentHash);
                stored.Add(accepted);
            }

            if (stored.Count > 0) recordedEventIds.Insert(session, stored, time.GetUtcNow());
            await Commit(writes.Values, decisions, cancellationToken);
        }
        finally
        {
            foreach (var decision in decisions) decision.Dispose();
        }

        foreach (var accepted in stored) metrics.EventConsumed(accepted.Event.Type);
        return outcomes;
    }

    private DuplicateEventIdException? RefusalUnlessRedelivery(AcceptedCustomerEvent accepted, RecordedEventId earlier)
    {
        var otherCustomer = earlier.CustomerId != accepted.CustomerId;
        if (!otherCustomer && earlier.ContentHash == accepted.ContentHash) return null;

        var reason = otherCustomer
            ? $"event id {accepted.EventIdAsSent} was already recorded for customer {earlier.CustomerId}; an event id names one occurrence across all customers"
            : $"event id {accepted.EventIdAsSent} was already recorded for customer {earlier.CustomerId} with different content";
        metrics.ConflictingEventId(otherCustomer ? "customer" : "content");
        logger.LogWarning("Event {EventId} for customer {CustomerId} refused: {Reason}", accepted.Event.EventId, accepted.CustomerId, reason);
        return new DuplicateEventIdException(reason);
    }

    private void LogRedelivery(Activity? activity, AcceptedCustomerEvent accepted)
    {
        logger.LogInformation("Event {EventId} for customer {CustomerId} was already recorded; redelivery ignored",
            accepted.Event.EventId, accepted.CustomerId);
        activity?.SetTag("outcome", "duplicate");
    }

    /// <summary>
    /// Evaluates customers with no new event (due, or decided under another version) and commits their decisions in one
    /// transaction, with the end of <paramref name="leasedBy"/>'s lease on every customer in <paramref name="claimed"/>
    /// (those decided and any left out after a lost race). Each decision starts a trace of its own, linked to the
    /// sweep and to the decision that set the timer. Returns the customers decided; those with no profile are dropped
    /// from the schedule.
    /// </summary>
    public async Task<IReadOnlyList<string>> Reevaluate(
        IReadOnlyList<string> customerIds, IReadOnlyCollection<string> claimed, string leasedBy, ActivityContext sweep, CancellationToken cancellationToken)
    {
        var profiles = await session.LoadManyAsync<CustomerProfile>(cancellationToken, customerIds);
        var current = rules.Current;
        var decisions = new List<Activity>(profiles.Count);
        var writes = new List<PendingWrite>(profiles.Count);
        try
        {
            foreach (var profile in profiles)
            {
                var links = new List<ActivityLink>(2);
                if (sweep != default) links.Add(new ActivityLink(sweep));
                if (ActivityContext.TryParse(profile.NextCheckSetBy, null, isRemote: true, out var setBy)) links.Add(new ActivityLink(setBy));
                var activity = StartDecision(profile.Id, "segmentation.time-triggered", default, decisions, links);
                var write = new PendingWrite(profile);
                var state = await Covered(write, current, cancellationToken);
                var now = Latest(time.GetUtcNow(), state.EvaluatedAt);
                var result = Decide(activity, current, () => current.Engine.Evaluate(state, now));
                write.Add(current, result, [.. MembershipEvents(current, result, causeOccurredAt: null)], now, activity);
                writes.Add(write);
            }

            var found = profiles.Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
            schedule.Release(session, claimed, [.. customerIds.Where(id => !found.Contains(id))], leasedBy);
            await Commit(writes, decisions, cancellationToken);
        }
        finally
        {
            foreach (var decision in decisions) decision.Dispose();
        }

        return [.. profiles.Select(p => p.Id)];
    }

    /// <summary>
    /// Appends each customer's facts expecting the version their profile was read at, stores the evolved profiles and
    /// their schedule rows and commits, in one transaction; its database spans belong to the first decision's trace and
    /// link to the others'.
    /// </summary>
    private async Task Commit(IEnumerable<PendingWrite> writes, List<Activity> decisions, CancellationToken cancellationToken)
    {
        // Every commit locks its customers' rows in the same order, so two commits that share customers cannot deadlock.
        var written = new List<CustomerProfile>();
        foreach (var write in writes.OrderBy(w => w.Profile.Id, StringComparer.Ordinal))
            if (write.Queue(session)) written.Add(write.Profile);
        schedule.Queue(session, written);
        Activity.Current = null;
        using var commit = SegmentationTelemetry.Source.StartActivity("segmentation.commit", ActivityKind.Internal,
            parentContext: decisions.Count > 0 ? decisions[0].Context : default,
            links: decisions.Skip(1).Select(d => new ActivityLink(d.Context)));
        commit?.SetTag("commit.decisions", decisions.Count);
        await session.SaveChangesAsync(cancellationToken);
    }

    /// <summary>
    /// The state the next decision on this customer starts from: the profile's state copied (refolded from the stream when
    /// the active ruleset reads more than it keeps) for the first decision in the batch, then the state that one left.
    /// </summary>
    private async Task<CustomerState> Covered(PendingWrite write, LoadedRuleset current, CancellationToken cancellationToken)
    {
        if (write.Decided) return write.Profile.State;

        var (state, refoldedFrom) = await CustomerStreams.CoveredState(session, write.Profile, current.Engine, cancellationToken);
        if (refoldedFrom is { } events)
        {
            metrics.ProfileRefolded(events);
            logger.LogDebug("Customer {CustomerId}: profile refolded from {Events} events for ruleset {Version}", write.Profile.Id, events, current.Version);
        }

        return state;
    }

    /// <summary>
    /// The span of one decision, a child of the consume (or time-triggered) span that caused it. Its trace context is
    /// stored with the events it appends, so the relay's publish of the resulting segment events continues this trace.
    /// It stays open until the commit; <see cref="Activity.Current"/> is cleared after each so decisions do not nest.
    /// </summary>
    private static Activity? StartDecision(
        string customerId, string name, ActivityContext causedBy, List<Activity> decisions, IEnumerable<ActivityLink>? links = null)
    {
        Activity.Current = null;
        var activity = SegmentationTelemetry.Source.StartActivity(name, ActivityKind.Internal, causedBy, links: links);
        if (activity is null) return null;
        activity.SetTag("customer.id", customerId);
        decisions.Add(activity);
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

    /// <summary>One customer's decisions in a commit: the profile as it evolves, and the facts to append after the version it was read at.</summary>
    private sealed class PendingWrite(CustomerProfile profile)
    {
        private readonly long _readVersion = profile.Version;
        private readonly List<(object Fact, string? DecidedBy)> _facts = [];

        public CustomerProfile Profile { get; } = profile;

        /// <summary>Whether a decision in this commit has already evolved <see cref="Profile"/>.</summary>
        public bool Decided { get; private set; }

        public static PendingWrite ForNewCustomer(string customerId) =>
            new(new CustomerProfile { Id = customerId, State = new CustomerState { CustomerId = customerId } });

        public void Add(LoadedRuleset current, EvaluationResult result, List<object> facts, DateTimeOffset now, Activity? decision)
        {
            if (!Profile.Shows(result.Blocked, result.NextCheckAt, current.Version))
            {
                facts.Add(new CustomerEvaluated(now, current.Version, result.Blocked, result.NextCheckAt));
            }

            if (facts.Count == 0) return;
            Profile.Evolve(result.State, facts, Profile.Version + facts.Count, decision?.Id);
            _facts.AddRange(facts.Select(f => (f, decision?.Id)));
            Decided = true;
        }

        /// <summary>Queues the append and the profile; false when no decision in this commit changed anything.</summary>
        public bool Queue(IDocumentSession session)
        {
            if (_facts.Count == 0) return false;
            var facts = _facts.Select(f => f.Fact).ToArray();
            var stream = _readVersion == 0
                ? session.Events.StartStream(Profile.Id, facts)
                : session.Events.Append(Profile.Id, Profile.Version, facts);
            for (var i = 0; i < _facts.Count; i++)
                if (_facts[i].DecidedBy is { } decidedBy) stream.Events[i].SetHeader(SegmentationTelemetry.TraceParentHeader, decidedBy);
            session.Store(Profile);
            return true;
        }
    }
}
