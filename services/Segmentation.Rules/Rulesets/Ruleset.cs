using Segmentation.Rules.Language;

namespace Segmentation.Rules.Rulesets;

public enum ConflictPolicy { Priority, Reject }

/// <summary>1-based line and column in the ruleset file.</summary>
public readonly record struct SourceLocation(int Line, int Column);

public sealed record RuleError(string FileName, int Line, int Column, string Message)
{
    public override string ToString() => $"{FileName}:{Line}:{Column}: {Message}";
}

public sealed record SegmentGroup(string Name, bool Exclusive, TimeSpan Cooldown, ConflictPolicy OnConflict, SourceLocation Location);

public sealed record SegmentRule(
    string Name,
    string? Group,
    int Priority,
    string? Channel,
    string ConditionText,
    Expr Condition,
    SourceLocation Location)
{
    /// <summary>File location of each character of <see cref="ConditionText"/> (one extra entry for the end).</summary>
    internal IReadOnlyList<SourceLocation> ConditionLocations { get; init; } = [];

    /// <summary>Where in the ruleset file an offset of the condition text lies; lets later analyses report file positions.</summary>
    public SourceLocation Locate(int conditionOffset) =>
        ConditionLocations.Count == 0 ? Location : ConditionLocations[Math.Clamp(conditionOffset, 0, ConditionLocations.Count - 1)];

    public string TextOf(Expr node) => ConditionText.Substring(node.Span.Start, node.Span.Length);
}

public sealed record Ruleset(
    string FileName,
    string Fingerprint,
    IReadOnlyDictionary<string, AttributeType> Attributes,
    IReadOnlyDictionary<string, SegmentGroup> Groups,
    IReadOnlyList<SegmentRule> Segments,
    IReadOnlySet<string> EventTypes)
{
    public static readonly IReadOnlySet<string> BuiltInEventTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "SignedUp", "Purchased", "ProfileUpdated", "Unsubscribed",
    };

    public const string ProfileUpdated = "ProfileUpdated";
}

public sealed record RulesetLoadResult(Ruleset? Ruleset, IReadOnlyList<RuleError> Errors)
{
    public bool Succeeded => Ruleset is not null;
}
