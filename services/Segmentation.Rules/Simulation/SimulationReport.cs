using System.Text.Json;

namespace Segmentation.Rules.Simulation;

/// <summary>
/// The outcome of a simulation. Serialised by <see cref="ToJson"/> with camelCase names; the shape is documented in the
/// README ("Simulating a ruleset") and only grows by new members. Days are UTC dates ("yyyy-MM-dd"), per-day maps list
/// only days with a non-zero count, customer id lists hold the smallest ids (ordinal) up to the example cap.
/// </summary>
/// <param name="Scope">"snapshot" or "replay".</param>
/// <param name="From">Start of the counted period (the snapshot instant for a snapshot).</param>
/// <param name="To">End of the period: holders are counted at this instant.</param>
/// <param name="Days">UTC calendar days the period touches (1 for a snapshot); per-day averages divide by this.</param>
/// <param name="Baseline">Null when the simulation ran without a baseline (then there is no diff).</param>
public sealed record SimulationReport(
    string Scope,
    DateTimeOffset From,
    DateTimeOffset To,
    int Days,
    RulesetIdentity Candidate,
    RulesetIdentity? Baseline,
    long Customers,
    EvaluationCounts Evaluations,
    IReadOnlyList<SegmentReport> Segments,
    IReadOnlyList<GroupReport> Groups,
    IReadOnlyList<ChannelReport> Messages)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static SimulationReport? FromJson(string json) => JsonSerializer.Deserialize<SimulationReport>(json, Json);
}

public sealed record RulesetIdentity(string File, string Fingerprint);

/// <summary>Engine calls made: one per event and per instant that fell due, plus one at the end (snapshot: one each).</summary>
public sealed record EvaluationCounts(long Candidate, long Baseline);

/// <summary>
/// One segment: the candidate's figures first (zero when the candidate lacks the segment), then the baseline's and the
/// diff when there is a baseline. Candidate segments come in definition order, then segments only the baseline (or
/// only the profiles) hold.
/// </summary>
/// <param name="Entries">Entries during the period.</param>
/// <param name="Exits">Exits during the period.</param>
/// <param name="HoldersAtEnd">Customers holding the segment at <see cref="SimulationReport.To"/>.</param>
/// <param name="WouldEnter">Customers holding it at the end under the candidate but not under the baseline.</param>
/// <param name="WouldLeave">Customers holding it at the end under the baseline but not under the candidate.</param>
public sealed record SegmentReport(
    string Segment,
    string? Group,
    string? Channel,
    bool InCandidate,
    bool InBaseline,
    long Entries,
    long Exits,
    long HoldersAtEnd,
    IReadOnlyDictionary<string, long> EntriesPerDay,
    IReadOnlyDictionary<string, long> ExitsPerDay,
    BlockedReport Blocked,
    BaselineSegmentReport? Baseline,
    CustomerList? WouldEnter,
    CustomerList? WouldLeave);

/// <summary>
/// Customers for whom the segment qualified but was kept out of its exclusive group at some evaluation in the period:
/// in total, per segment holding the slot, and by a running cooldown. One customer may count under several reasons.
/// </summary>
public sealed record BlockedReport(long Customers, IReadOnlyDictionary<string, long> HeldBy, long Cooldown);

public sealed record BaselineSegmentReport(
    string? Channel, long Entries, long Exits, long HoldersAtEnd, IReadOnlyDictionary<string, long> EntriesPerDay);

public sealed record CustomerList(long Count, IReadOnlyList<string> Customers);

/// <summary>One exclusive group of the candidate: contacts (entries into the group) and overlaps.</summary>
public sealed record GroupReport(
    string Group, ContactDistribution ContactsPerCustomer, IReadOnlyDictionary<string, long> ContactsPerDay, IReadOnlyList<OverlapReport> Overlaps);

/// <summary>
/// Contacts per customer over all simulated customers (those with none included). Median and p95 are nearest-rank:
/// the smallest count that at least 50% (95%) of the customers do not exceed.
/// </summary>
public sealed record ContactDistribution(long Customers, long Contacted, long Total, int Median, int P95, int Max);

/// <summary>Two segments of one exclusive group whose conditions held at the same evaluation for these customers.</summary>
public sealed record OverlapReport(IReadOnlyList<string> Segments, long Customers, IReadOnlyList<string> Examples);

/// <summary>Messages that would be sent: entries into segments with this channel.</summary>
public sealed record ChannelReport(
    string Channel, long Total, IReadOnlyDictionary<string, long> PerDay, long? BaselineTotal, IReadOnlyDictionary<string, long>? BaselinePerDay);
