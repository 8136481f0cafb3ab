using Segmentation.Rules.Membership;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Membership;

namespace Segmentation.Service.Profiles;

/// <summary>
/// One customer's current state, stored as a document beside its event stream and written in the same transaction as
/// each decision's events. <see cref="State"/> is the rule engine's state after the last decision, bounded by what the
/// active ruleset reads (events inside its windows, running totals, attributes, memberships, the engine's caches), so
/// the next decision is incremental and costs the same whatever the length of the history; the stream keeps every
/// event and is folded again when a ruleset needs more. The other members are the readable summary the admin API serves.
/// </summary>
public sealed class CustomerProfile
{
    public string Id { get; set; } = "";

    /// <summary>Version of the customer's stream this profile was decided at; the next decision's append expects it.</summary>
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

    /// <summary>
    /// The one place a profile changes: it takes the state the engine decided and the facts appended for the decision
    /// (the customer's event, entries, exits, the decision record), at the stream version they bring it to.
    /// </summary>
    internal void Evolve(CustomerState decided, IReadOnlyList<object> facts, long version, string? decidedBy)
    {
        State = decided;
        Version = version;
        foreach (var fact in facts)
        {
            switch (fact)
            {
                case CustomerEventRecorded recorded:
                    EventTypes[recorded.Type] = EventTypes.TryGetValue(recorded.Type, out var summary)
                        ? summary.Including(recorded.OccurredAt)
                        : new EventTypeSummary(1, recorded.OccurredAt, recorded.OccurredAt);
                    break;
                case CustomerEnteredSegment entered:
                    Segments[entered.Segment] = new HeldSegment(entered.At, entered.Group, entered.Channel, entered.RulesetVersion);
                    break;
                case CustomerExitedSegment exited:
                    Segments.Remove(exited.Segment);
                    break;
                case CustomerEvaluated evaluated:
                    Blocked = evaluated.Blocked;
                    RulesetVersion = evaluated.RulesetVersion;
                    if (NextCheckAt != evaluated.NextCheckAt) NextCheckSetBy = decidedBy;
                    NextCheckAt = evaluated.NextCheckAt;
                    break;
            }
        }
    }

    /// <summary>Whether a decision changed what the profile shows (blocked list, next check, ruleset version), so it is worth a record.</summary>
    internal bool Shows(IReadOnlyList<BlockedSegment> blocked, DateTimeOffset? nextCheckAt, string rulesetVersion) =>
        Blocked.SequenceEqual(blocked) && NextCheckAt == nextCheckAt && RulesetVersion == rulesetVersion;
}

public sealed record HeldSegment(DateTimeOffset Since, string? Group, string? Channel, string RulesetVersion);

public sealed record EventTypeSummary(int Count, DateTimeOffset FirstAt, DateTimeOffset LastAt)
{
    internal EventTypeSummary Including(DateTimeOffset occurredAt) => new(
        Count + 1,
        occurredAt < FirstAt ? occurredAt : FirstAt,
        occurredAt > LastAt ? occurredAt : LastAt);
}
