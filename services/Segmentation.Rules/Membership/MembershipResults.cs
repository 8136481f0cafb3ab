namespace Segmentation.Rules.Membership;

public enum MembershipChangeKind { Entered, Exited }

public sealed record SegmentChange(string Segment, MembershipChangeKind Kind, DateTimeOffset At, string? Group);

/// <summary>A segment whose condition holds but which did not get its exclusive group's slot.</summary>
public sealed record BlockedSegment(string Segment, string Group, string Reason, string? HeldBy, DateTimeOffset? CooldownUntil);

/// <summary>
/// Outcome of one call into the engine: the (updated in place) state, the membership changes in the order they happened,
/// what is blocked now, and when to evaluate again if no event arrives.
/// </summary>
public sealed record EvaluationResult(
    CustomerState State,
    IReadOnlyList<SegmentChange> Changes,
    IReadOnlyList<BlockedSegment> Blocked,
    DateTimeOffset? NextCheckAt);
