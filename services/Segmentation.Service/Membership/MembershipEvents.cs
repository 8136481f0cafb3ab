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
/// The visible outcome of a decision: what is blocked, when to look again, under which ruleset version. Stored only
/// when one of them changed; the engine's caches stay in the profile document, out of the log.
/// </summary>
public sealed record CustomerEvaluated(
    DateTimeOffset At,
    string RulesetVersion,
    IReadOnlyList<BlockedSegment> Blocked,
    DateTimeOffset? NextCheckAt);
