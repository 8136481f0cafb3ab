namespace Segmentation.Rules.Simulation;

/// <summary>
/// A count of customers plus the <c>capacity</c> smallest of their ids (ordinal). Keeping the smallest rather than the
/// first seen makes the list independent of the order in which parallel workers meet the customers.
/// </summary>
internal sealed class SmallestIds(int capacity)
{
    private readonly SortedSet<string> ids = new(StringComparer.Ordinal);

    public long Count { get; private set; }

    public void Add(string customerId)
    {
        Count++;
        Keep(customerId);
    }

    public void Merge(SmallestIds other)
    {
        Count += other.Count;
        foreach (var id in other.ids)
        {
            Keep(id);
        }
    }

    public IReadOnlyList<string> Ids => [.. ids];

    private void Keep(string customerId)
    {
        if (capacity <= 0)
        {
            return;
        }

        if (ids.Count < capacity)
        {
            ids.Add(customerId);
        }
        else if (string.CompareOrdinal(customerId, ids.Max) < 0 && ids.Add(customerId))
        {
            ids.Remove(ids.Max!);
        }
    }
}
