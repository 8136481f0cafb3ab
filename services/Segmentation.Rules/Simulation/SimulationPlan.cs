using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Simulation;

/// <summary>What every worker shares, read-only: the two engines and the lookups the tallies need.</summary>
internal sealed class SimulationPlan
{
    public SimulationPlan(Ruleset candidate, Ruleset? baseline, int exampleCustomers)
    {
        Candidate = new SegmentEngine(candidate);
        Baseline = baseline is null ? null : new SegmentEngine(baseline);
        ExampleCustomers = exampleCustomers;
        CandidateRules = candidate.Segments.ToDictionary(s => s.Name, StringComparer.Ordinal);
        BaselineRules = baseline?.Segments.ToDictionary(s => s.Name, StringComparer.Ordinal) ?? [];
        ExclusiveGroups = [.. candidate.Groups.Values.Where(g => g.Exclusive).Select(g => g.Name).Order(StringComparer.Ordinal)];
        GroupIndexOfSegment = candidate.Segments
            .Where(s => s.Group is { } group && candidate.Groups[group].Exclusive)
            .ToDictionary(s => s.Name, s => Array.IndexOf(ExclusiveGroups, s.Group), StringComparer.Ordinal);
    }

    public SegmentEngine Candidate { get; }

    public SegmentEngine? Baseline { get; }

    public int ExampleCustomers { get; }

    public IReadOnlyDictionary<string, SegmentRule> CandidateRules { get; }

    public IReadOnlyDictionary<string, SegmentRule> BaselineRules { get; }

    /// <summary>The candidate's exclusive groups, by name.</summary>
    public string[] ExclusiveGroups { get; }

    /// <summary>Index into <see cref="ExclusiveGroups"/> of each candidate segment that belongs to an exclusive group.</summary>
    public IReadOnlyDictionary<string, int> GroupIndexOfSegment { get; }
}
