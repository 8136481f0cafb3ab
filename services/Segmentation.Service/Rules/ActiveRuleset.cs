using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Service.Rules;

/// <summary>The ruleset decisions are made with right now, swapped atomically when another version is activated.</summary>
public sealed class ActiveRuleset
{
    private static readonly LoadedRuleset Empty = LoadedRuleset.From(
        RulesetLoader.Load("segments: {}", "(no ruleset)").Ruleset!, "none");

    private volatile LoadedRuleset _current = Empty;

    public LoadedRuleset Current => _current;

    public void Replace(LoadedRuleset ruleset) => _current = ruleset;
}

public sealed record LoadedRuleset(string Version, Ruleset Ruleset, SegmentEngine Engine)
{
    public static LoadedRuleset From(Ruleset ruleset, string version) => new(version, ruleset, new SegmentEngine(ruleset));

    /// <summary>Versions are content-addressed: the same YAML always gets the same version id.</summary>
    public static string VersionOf(Ruleset ruleset) => "r-" + ruleset.Fingerprint[..12].ToLowerInvariant();

    public SegmentRule? Segment(string name) => Ruleset.Segments.FirstOrDefault(s => s.Name == name);
}
