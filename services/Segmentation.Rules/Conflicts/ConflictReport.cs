using Segmentation.Rules.Evaluation;

namespace Segmentation.Rules.Conflicts;

public enum FindingKind
{
    /// <summary>Some customer satisfies both conditions at one instant; a confirmed witness shows one.</summary>
    Conflict,

    /// <summary>Proven: no customer ever satisfies both conditions at the same instant.</summary>
    Disjoint,

    /// <summary>The analysis could neither prove the pair disjoint nor build a confirmed witness; the description says why.</summary>
    Unknown,

    /// <summary>Proven: no customer ever satisfies the segment's condition.</summary>
    Unsatisfiable,

    /// <summary>Proven: whoever qualifies for the lower-priority segment also qualifies for a higher-priority one of its exclusive group.</summary>
    Shadowed,

    /// <summary>Proven: the two conditions hold for exactly the same customers.</summary>
    Duplicate,
}

/// <summary>An event history (of one customer) and an instant at which the engine finds both conditions true.</summary>
public sealed record ConflictWitness(DateTimeOffset At, IReadOnlyList<CustomerEvent> Events)
{
    /// <summary>The customer id the witness history uses.</summary>
    public const string CustomerId = WitnessBuilder.CustomerId;
}

/// <summary>
/// One finding. <see cref="Segments"/> is sorted by name (ordinal). <see cref="Winner"/> is set for a conflict in a
/// group whose policy is priority: the segment a customer who qualifies for both is given.
/// </summary>
public sealed record ConflictFinding(
    string? Group,
    FindingKind Kind,
    IReadOnlyList<string> Segments,
    string Description,
    ConflictWitness? Witness = null,
    string? Winner = null);

/// <summary>
/// Findings sorted by group, then segments, then kind. <see cref="BudgetExceeded"/>: the analysis ran out of its
/// <see cref="ConflictAnalysisBudget"/>, and the pairs it did not reach are findings of kind
/// <see cref="FindingKind.Unknown"/> described as <see cref="BudgetExceededDescription"/>.
/// </summary>
public sealed record ConflictReport(IReadOnlyList<ConflictFinding> Findings, IReadOnlySet<string> RejectingGroups, bool BudgetExceeded = false)
{
    public const string BudgetExceededDescription = "unknown: budget exceeded";

    /// <summary>Conflicts in groups with <c>on_conflict: reject</c>: a ruleset with any must not be activated.</summary>
    public IReadOnlyList<ConflictFinding> RejectedConflicts =>
        [.. Findings.Where(f => f.Kind == FindingKind.Conflict && f.Group is not null && RejectingGroups.Contains(f.Group))];

    /// <summary>Groups with <c>on_conflict: reject</c> whose pairs were not all analysed: nobody knows they have no conflict.</summary>
    public IReadOnlyList<string> UnfinishedRejectingGroups =>
        [.. Findings.Where(f => f.Group is not null && RejectingGroups.Contains(f.Group) && IsUnanalysed(f)).Select(f => f.Group!).Distinct(StringComparer.Ordinal)];

    /// <summary>How many pairs the budget left unanalysed.</summary>
    public int UnanalysedPairs => Findings.Count(IsUnanalysed);

    /// <summary>No conflict in a reject group, and every pair of every reject group analysed.</summary>
    public bool Accepted => RejectedConflicts.Count == 0 && UnfinishedRejectingGroups.Count == 0;

    private static bool IsUnanalysed(ConflictFinding finding) =>
        finding.Kind == FindingKind.Unknown && finding.Description == BudgetExceededDescription;
}
