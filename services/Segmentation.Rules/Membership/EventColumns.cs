using Segmentation.Rules.Evaluation;

namespace Segmentation.Rules.Membership;

/// <summary>
/// Transient, contiguous copy of one event type's history (<see cref="CustomerState.EventsByType"/>): occurrence ticks in
/// the list's order and, per numeric property an aggregate has asked for, the ticks and values of the events that carry a
/// number under that name (the others are skipped by sum/min/max/avg), with prefix sums when they are exact. Aggregates
/// binary-search these arrays instead of chasing <see cref="CustomerEvent"/> objects. Derived only: never serialised or
/// cloned; <see cref="CustomerState.Record"/> appends to it, and it is rebuilt whenever it no longer matches its list
/// (another list, another count, another first or last event).
/// </summary>
internal sealed class EventColumns
{
    /// <summary>Sums of integers stay exact up to this magnitude, so prefix differences equal sums added in order.</summary>
    private const double ExactLimit = 9007199254740992.0; // 2^53

    private readonly List<CustomerEvent> source;
    private CustomerEvent? first;
    private CustomerEvent? last;
    private long[] ticks;
    private PropertyColumn[] properties = [];

    private EventColumns(List<CustomerEvent> source)
    {
        this.source = source;
        ticks = new long[Math.Max(4, source.Count)];
        foreach (var e in source)
        {
            ticks[Count++] = e.OccurredAt.UtcTicks;
        }

        first = Count > 0 ? source[0] : null;
        last = Count > 0 ? source[^1] : null;
    }

    public int Count { get; private set; }

    public ReadOnlySpan<long> Ticks => ticks.AsSpan(0, Count);

    /// <summary>The columns of <paramref name="list"/> kept on <paramref name="state"/>, rebuilt when absent or stale.</summary>
    public static EventColumns For(CustomerState state, string type, List<CustomerEvent> list)
    {
        var all = state.Columns ??= new Dictionary<string, EventColumns>(StringComparer.Ordinal);
        if (all.TryGetValue(type, out var columns) && columns.Matches(list))
        {
            return columns;
        }

        columns = new EventColumns(list);
        all[type] = columns;
        return columns;
    }

    /// <summary>True while the columns still describe <paramref name="list"/>.</summary>
    public bool Matches(List<CustomerEvent> list) =>
        ReferenceEquals(list, source)
        && list.Count == Count
        && (Count == 0 || (ReferenceEquals(list[0], first) && ReferenceEquals(list[Count - 1], last)));

    /// <summary>Takes <paramref name="e"/>, just added at the end of the list these columns matched before it.</summary>
    public void Append(CustomerEvent e)
    {
        var at = e.OccurredAt.UtcTicks;
        if (Count == ticks.Length)
        {
            Array.Resize(ref ticks, Count * 2);
        }

        ticks[Count++] = at;
        first ??= e;
        last = e;
        foreach (var column in properties)
        {
            if (e.Properties.TryGetValue(column.Name, out var value) && value.Kind == ValueKind.Number)
            {
                column.Add(at, value.AsNumber);
            }
        }
    }

    /// <summary>Ticks and values of the events carrying a number under <paramref name="name"/>, in history order.</summary>
    public PropertyColumn Property(string name)
    {
        foreach (var existing in properties)
        {
            if (string.Equals(existing.Name, name, StringComparison.Ordinal))
            {
                return existing;
            }
        }

        var column = new PropertyColumn(name);
        foreach (var e in source)
        {
            if (e.Properties.TryGetValue(name, out var value) && value.Kind == ValueKind.Number)
            {
                column.Add(e.OccurredAt.UtcTicks, value.AsNumber);
            }
        }

        properties = [.. properties, column];
        return column;
    }

    /// <summary>Number of ticks at or before <paramref name="upTo"/> (the ticks are sorted).</summary>
    public static int CountUpTo(ReadOnlySpan<long> sorted, long upTo)
    {
        int low = 0, high = sorted.Length;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (sorted[middle] <= upTo)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    internal sealed class PropertyColumn(string name)
    {
        private long[] ticks = new long[4];
        private double[] values = new double[4];

        /// <summary>prefix[i] = values[0] + ... + values[i - 1]; meaningful only while <see cref="Exact"/>.</summary>
        private double[] prefix = new double[5];
        private double absoluteTotal;

        public string Name { get; } = name;

        public int Count { get; private set; }

        /// <summary>Every value is an integer and the sum of their magnitudes is at most 2^53, so every partial sum is exact.</summary>
        public bool Exact { get; private set; } = true;

        public ReadOnlySpan<long> Ticks => ticks.AsSpan(0, Count);

        public ReadOnlySpan<double> Values => values.AsSpan(0, Count);

        /// <summary>values[start] + ... + values[end - 1]; only while <see cref="Exact"/>.</summary>
        public double Sum(int start, int end) => prefix[end] - prefix[start];

        public void Add(long at, double value)
        {
            if (Count == ticks.Length)
            {
                Array.Resize(ref ticks, Count * 2);
                Array.Resize(ref values, Count * 2);
                Array.Resize(ref prefix, (Count * 2) + 1);
            }

            ticks[Count] = at;
            values[Count] = value;
            if (Exact)
            {
                absoluteTotal += Math.Abs(value);
                Exact = double.IsFinite(value) && value == Math.Floor(value) && absoluteTotal <= ExactLimit;
                prefix[Count + 1] = prefix[Count] + value;
            }

            Count++;
        }
    }
}
