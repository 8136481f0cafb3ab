using Segmentation.Rules.Evaluation;

namespace Segmentation.Rules.Membership;

/// <summary>The latest value of one attribute and the event that set it.</summary>
public sealed record AttributeValue(Value Value, DateTimeOffset OccurredAt, string EventId);

/// <summary>
/// Everything the engine knows about one customer: the event history, the derived attributes, the memberships and the
/// engine's cached condition results. Plain public properties and collections so it serialises with System.Text.Json.
/// The engine updates an instance in place; load a fresh copy per unit of work.
/// </summary>
public sealed class CustomerState
{
    public string CustomerId { get; init; } = string.Empty;

    /// <summary>Events applied so far, per type, each list in occurrence order (time, then event id ordinal).</summary>
    public Dictionary<string, List<CustomerEvent>> EventsByType { get; init; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Latest value of each ProfileUpdated property by occurrence time; at equal times the larger event id (ordinal) wins.
    /// </summary>
    public Dictionary<string, AttributeValue> Attributes { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Events that arrived with an occurrence time after the evaluation time; applied once the clock reaches them.</summary>
    public List<CustomerEvent> Pending { get; init; } = [];

    /// <summary>Segments held now, with the instant each was entered.</summary>
    public Dictionary<string, DateTimeOffset> Held { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Last entry into each exclusive group, for the cooldown.</summary>
    public Dictionary<string, DateTimeOffset> LastGroupEntry { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Cache: segments whose condition was true at the last evaluation.</summary>
    public HashSet<string> Qualifying { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Cache: the instant at which a segment's condition may change without a new event.</summary>
    public Dictionary<string, DateTimeOffset> RecheckAt { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Exclusive groups waiting for a cooldown to end while a segment qualifies, with the end of the cooldown.</summary>
    public Dictionary<string, DateTimeOffset> CooldownWaits { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Fingerprint of the ruleset the caches belong to; a different ruleset re-evaluates everything.</summary>
    public string? RulesetFingerprint { get; set; }

    public DateTimeOffset? EvaluatedAt { get; set; }

    /// <summary>Earliest instant at which the outcome may change without a new event; null when nothing is time-dependent.</summary>
    public DateTimeOffset? NextCheckAt { get; set; }
}
