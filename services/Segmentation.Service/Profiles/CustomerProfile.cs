using System.Text.Json;
using Segmentation.Service.Ingestion;

namespace Segmentation.Service.Profiles;

/// <summary>
/// Event-sourced view of one customer, derived from occurrence times only, so the same set of
/// events gives the same profile whatever order they arrived in.
/// </summary>
public sealed class CustomerProfile
{
    public string Id { get; set; } = "";

    /// <summary>Stream version, set by Marten; the expected version of the next append.</summary>
    public long Version { get; set; }

    /// <summary>Latest value of each attribute by occurrence time (ties: higher event id).</summary>
    public Dictionary<string, AttributeValue> Attributes { get; set; } = new(StringComparer.Ordinal);

    public Dictionary<string, EventTypeSummary> EventTypes { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Every recorded event in occurrence order (ties: event id). Rules need exact windows
    /// <c>(now - W, now]</c> and property filters, which pre-aggregated buckets cannot answer;
    /// the history also makes redelivery detection part of the same optimistic-concurrency check.
    /// </summary>
    public List<CustomerEventRecorded> History { get; set; } = [];

    public bool HasRecorded(Guid eventId) => History.Exists(e => e.EventId == eventId);

    internal void Record(CustomerEventRecorded recorded)
    {
        var position = History.FindLastIndex(e => OccursBefore(e, recorded)) + 1;
        History.Insert(position, recorded);

        EventTypes[recorded.Type] = EventTypes.TryGetValue(recorded.Type, out var summary)
            ? summary.Including(recorded.OccurredAt)
            : new EventTypeSummary(1, recorded.OccurredAt, recorded.OccurredAt);

        if (recorded.Type == WellKnownEventTypes.ProfileUpdated)
        {
            foreach (var (name, value) in recorded.Properties)
            {
                if (!Attributes.TryGetValue(name, out var current) || current.IsOlderThan(recorded))
                {
                    Attributes[name] = new AttributeValue(value, recorded.OccurredAt, recorded.EventId);
                }
            }
        }
    }

    private static bool OccursBefore(CustomerEventRecorded a, CustomerEventRecorded b) =>
        a.OccurredAt < b.OccurredAt || (a.OccurredAt == b.OccurredAt && a.EventId.CompareTo(b.EventId) < 0);
}

public sealed record AttributeValue(JsonElement Value, DateTimeOffset SetAt, Guid SetByEventId)
{
    internal bool IsOlderThan(CustomerEventRecorded e) =>
        SetAt < e.OccurredAt || (SetAt == e.OccurredAt && SetByEventId.CompareTo(e.EventId) < 0);
}

public sealed record EventTypeSummary(int Count, DateTimeOffset FirstAt, DateTimeOffset LastAt)
{
    internal EventTypeSummary Including(DateTimeOffset occurredAt) => new(
        Count + 1,
        occurredAt < FirstAt ? occurredAt : FirstAt,
        occurredAt > LastAt ? occurredAt : LastAt);
}
