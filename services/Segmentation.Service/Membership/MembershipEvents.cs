using Segmentation.Rules.Membership;

namespace Segmentation.Service.Membership;

/// <summary>
/// Stored when the engine puts a customer into a segment; relayed to the bus as <c>SegmentEntered</c>.
/// <paramref name="ClaimsGroup"/>: the entry took the slot of an exclusive group (and starts its cooldown).
/// <paramref name="CauseOccurredAt"/>: occurrence time of the upstream event that led to it (null when time did),
/// from which the relay measures the end-to-end lag.
/// </summary>
public sealed record CustomerEnteredSegment(
    string Segment, string? Group, string? Channel, string RulesetVersion, DateTimeOffset At, bool ClaimsGroup,
    DateTimeOffset? CauseOccurredAt = null);

/// <summary>Stored when the engine takes a customer out of a segment; relayed to the bus as <c>SegmentExited</c>.</summary>
public sealed record CustomerExitedSegment(string Segment, string? Group, string? Channel, string RulesetVersion, DateTimeOffset At);

/// <summary>
/// What an evaluation left behind besides membership changes: which conditions held, when each may change with no new
/// event, which groups wait for a cooldown, what is blocked, and when to look again. Stored so the profile carries
/// the engine's exact state and the next evaluation can be incremental.
/// </summary>
public sealed record CustomerEvaluated(
    DateTimeOffset At,
    string RulesetVersion,
    string RulesetFingerprint,
    IReadOnlyList<string> Qualifying,
    IReadOnlyDictionary<string, DateTimeOffset> RecheckAt,
    IReadOnlyDictionary<string, DateTimeOffset> CooldownWaits,
    IReadOnlyList<BlockedSegment> Blocked,
    DateTimeOffset? NextCheckAt);
