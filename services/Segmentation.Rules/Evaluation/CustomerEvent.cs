namespace Segmentation.Rules.Evaluation;

/// <summary>One event in a customer's history. <see cref="Properties"/> hold JSON-ish values: number, string, bool or null.</summary>
public sealed record CustomerEvent
{
    public required string EventId { get; init; }

    public required string Type { get; init; }

    public required DateTimeOffset OccurredAt { get; init; }

    public IReadOnlyDictionary<string, Value> Properties { get; init; } = new Dictionary<string, Value>(StringComparer.Ordinal);

    /// <summary>Occurrence order, with the event id (ordinal) breaking ties so every history has exactly one order.</summary>
    public static int CompareByOccurrence(CustomerEvent? left, CustomerEvent? right)
    {
        if (ReferenceEquals(left, right))
        {
            return 0;
        }

        if (left is null || right is null)
        {
            return left is null ? -1 : 1;
        }

        var byTime = left.OccurredAt.UtcTicks.CompareTo(right.OccurredAt.UtcTicks);
        return byTime != 0 ? byTime : string.CompareOrdinal(left.EventId, right.EventId);
    }
}
