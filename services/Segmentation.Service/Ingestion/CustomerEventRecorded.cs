using Segmentation.Rules.Evaluation;

namespace Segmentation.Service.Ingestion;

/// <summary>
/// The one stored shape of every upstream customer event, whatever contract it arrived as:
/// typed lifecycle messages and the generic <c>CustomerEvent</c> are normalised to a type name
/// and scalar properties, so rules, profiles and replays read a single event kind.
/// </summary>
public sealed record CustomerEventRecorded(
    Guid EventId,
    string Type,
    DateTimeOffset OccurredAt,
    IReadOnlyDictionary<string, Value> Properties)
{
    public CustomerEvent ToRuleEvent() => new()
    {
        EventId = EventId.ToString(),
        Type = Type,
        OccurredAt = OccurredAt,
        Properties = Properties,
    };
}
