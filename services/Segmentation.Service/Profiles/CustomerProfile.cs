using Segmentation.Rules.Membership;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Membership;

namespace Segmentation.Service.Profiles;

/// <summary>
/// Event-sourced view of one customer. <see cref="State"/> is exactly the rule engine's state after the last decision
/// (history in occurrence order, latest attributes, held segments, the engine's caches), so the next decision can be
/// incremental; the other members are the readable summary served by the admin API.
/// </summary>
public sealed class CustomerProfile
{
    public string Id { get; set; } = "";

    /// <summary>Stream version, set by Marten; the expected version of the next append.</summary>
    public long Version { get; set; }

    public CustomerState State { get; set; } = new();

    public Dictionary<string, EventTypeSummary> EventTypes { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Segments held now: since when, and the ruleset version that decided the entry.</summary>
    public Dictionary<string, HeldSegment> Segments { get; set; } = new(StringComparer.Ordinal);

    public IReadOnlyList<BlockedSegment> Blocked { get; set; } = [];

    /// <summary>The ruleset version of the last evaluation.</summary>
    public string? RulesetVersion { get; set; }

    /// <summary>When the outcome may change with no new event; the sweeper evaluates the customer then.</summary>
    public DateTimeOffset? NextCheckAt { get; set; }

    /// <summary>Trace context of the decision that set <see cref="NextCheckAt"/>, linked from the time-triggered trace.</summary>
    public string? NextCheckSetBy { get; set; }

    /// <summary>Whether the history holds this event (same id, type and occurrence time): a binary search, not a scan.</summary>
    public bool Holds(CustomerEventRecorded recorded) => State.Holds(recorded.ToRuleEvent());

    internal void Apply(CustomerEventRecorded recorded)
    {
        if (!State.Record(recorded.ToRuleEvent())) return;
        EventTypes[recorded.Type] = EventTypes.TryGetValue(recorded.Type, out var summary)
            ? summary.Including(recorded.OccurredAt)
            : new EventTypeSummary(1, recorded.OccurredAt, recorded.OccurredAt);
    }

    internal void Apply(CustomerEnteredSegment entered)
    {
        State.Held[entered.Segment] = entered.At;
        if (entered.ClaimsGroup && entered.Group is { } group) State.LastGroupEntry[group] = entered.At;
        Segments[entered.Segment] = new HeldSegment(entered.At, entered.Group, entered.Channel, entered.RulesetVersion);
    }

    internal void Apply(CustomerExitedSegment exited)
    {
        State.Held.Remove(exited.Segment);
        Segments.Remove(exited.Segment);
    }

    internal void Apply(CustomerEvaluated evaluated, string? traceParent)
    {
        NextCheckSetBy = traceParent;
        State.Qualifying.Clear();
        State.Qualifying.UnionWith(evaluated.Qualifying);
        Replace(State.RecheckAt, evaluated.RecheckAt);
        Replace(State.CooldownWaits, evaluated.CooldownWaits);
        State.RulesetFingerprint = evaluated.RulesetFingerprint;
        State.EvaluatedAt = evaluated.At;
        State.NextCheckAt = evaluated.NextCheckAt;
        Blocked = evaluated.Blocked;
        RulesetVersion = evaluated.RulesetVersion;
        NextCheckAt = evaluated.NextCheckAt;
    }

    private static void Replace(Dictionary<string, DateTimeOffset> target, IReadOnlyDictionary<string, DateTimeOffset> source)
    {
        target.Clear();
        foreach (var (key, value) in source) target[key] = value;
    }
}

public sealed record HeldSegment(DateTimeOffset Since, string? Group, string? Channel, string RulesetVersion);

public sealed record EventTypeSummary(int Count, DateTimeOffset FirstAt, DateTimeOffset LastAt)
{
    internal EventTypeSummary Including(DateTimeOffset occurredAt) => new(
        Count + 1,
        occurredAt < FirstAt ? occurredAt : FirstAt,
        occurredAt > LastAt ? occurredAt : LastAt);
}
