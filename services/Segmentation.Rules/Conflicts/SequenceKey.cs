namespace Segmentation.Rules.Conflicts;

/// <summary>A sequence compared item by item, in order, to key a cache; the hash is computed once.</summary>
internal sealed class SequenceKey<T> : IEquatable<SequenceKey<T>>
{
    private readonly T[] items;
    private readonly int hash;

    public SequenceKey(T[] items)
    {
        this.items = items;
        var combined = new HashCode();
        foreach (var item in items)
        {
            combined.Add(item);
        }

        hash = combined.ToHashCode();
    }

    public bool Equals(SequenceKey<T>? other) => other is not null && hash == other.hash && items.AsSpan().SequenceEqual(other.items);

    public override bool Equals(object? obj) => Equals(obj as SequenceKey<T>);

    public override int GetHashCode() => hash;
}
