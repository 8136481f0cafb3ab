namespace Segmentation.Rules.Simulation;

/// <summary>Entries, exits and end-of-period holders of one segment under one ruleset.</summary>
internal sealed class SegmentCounts
{
    public long Entries;
    public long Exits;
    public long HoldersAtEnd;
    public readonly Dictionary<DateOnly, long> EntriesPerDay = [];
    public readonly Dictionary<DateOnly, long> ExitsPerDay = [];

    public void Merge(SegmentCounts other)
    {
        Entries += other.Entries;
        Exits += other.Exits;
        HoldersAtEnd += other.HoldersAtEnd;
        Tally.Merge(EntriesPerDay, other.EntriesPerDay);
        Tally.Merge(ExitsPerDay, other.ExitsPerDay);
    }
}

/// <summary>What one ruleset did over the period: per segment, messages per channel and day, evaluations run.</summary>
internal sealed class RulesetCounts
{
    public long Evaluations;
    public readonly Dictionary<string, SegmentCounts> Segments = new(StringComparer.Ordinal);
    public readonly Dictionary<string, Dictionary<DateOnly, long>> MessagesPerChannel = new(StringComparer.Ordinal);

    public SegmentCounts Segment(string name) => Tally.GetOrAdd(Segments, name, static () => new SegmentCounts());

    public void Merge(RulesetCounts other)
    {
        Evaluations += other.Evaluations;
        foreach (var (name, counts) in other.Segments)
        {
            Segment(name).Merge(counts);
        }

        foreach (var (channel, perDay) in other.MessagesPerChannel)
        {
            Tally.Merge(Tally.GetOrAdd(MessagesPerChannel, channel, static () => []), perDay);
        }
    }
}

/// <summary>Customers for whom a segment qualified but did not get its group's slot, by reason (a customer counts once per reason).</summary>
internal sealed class BlockedCounts
{
    public long Customers;
    public long Cooldown;
    public readonly Dictionary<string, long> HeldBy = new(StringComparer.Ordinal);

    public void Merge(BlockedCounts other)
    {
        Customers += other.Customers;
        Cooldown += other.Cooldown;
        Tally.Merge(HeldBy, other.HeldBy);
    }
}

/// <summary>Contacts (entries) in one exclusive group: how many customers got how many, per day, and overlaps seen.</summary>
internal sealed class GroupCounts(int exampleCustomers)
{
    /// <summary>Number of contacts in the period -> customers with that number (zero included).</summary>
    public readonly Dictionary<int, long> ContactsPerCustomer = [];
    public readonly Dictionary<DateOnly, long> ContactsPerDay = [];
    public readonly Dictionary<(string First, string Second), SmallestIds> Overlaps = [];

    public SmallestIds Overlap((string, string) pair) => Tally.GetOrAdd(Overlaps, pair, () => new SmallestIds(exampleCustomers));

    public void Merge(GroupCounts other)
    {
        Tally.Merge(ContactsPerCustomer, other.ContactsPerCustomer);
        Tally.Merge(ContactsPerDay, other.ContactsPerDay);
        foreach (var (pair, customers) in other.Overlaps)
        {
            Overlap(pair).Merge(customers);
        }
    }
}

/// <summary>
/// Everything a worker has counted. Bounded: per segment, per day, per channel and per group, never per customer (the
/// example id lists are capped). Tallies are merged by addition, so the result does not depend on how customers were
/// spread over the workers.
/// </summary>
internal sealed class Tally
{
    private readonly int exampleCustomers;

    public Tally(SimulationPlan plan)
    {
        exampleCustomers = plan.ExampleCustomers;
        Groups = [.. plan.ExclusiveGroups.Select(_ => new GroupCounts(plan.ExampleCustomers))];
    }

    public long Customers;
    public readonly RulesetCounts Candidate = new();
    public readonly RulesetCounts Baseline = new();
    public readonly Dictionary<string, BlockedCounts> Blocked = new(StringComparer.Ordinal);
    public readonly GroupCounts[] Groups;
    public readonly Dictionary<string, SmallestIds> WouldEnter = new(StringComparer.Ordinal);
    public readonly Dictionary<string, SmallestIds> WouldLeave = new(StringComparer.Ordinal);

    public BlockedCounts BlockedOf(string segment) => GetOrAdd(Blocked, segment, static () => new BlockedCounts());

    public SmallestIds Ids(Dictionary<string, SmallestIds> lists, string segment) =>
        GetOrAdd(lists, segment, () => new SmallestIds(exampleCustomers));

    public void Merge(Tally other)
    {
        Customers += other.Customers;
        Candidate.Merge(other.Candidate);
        Baseline.Merge(other.Baseline);
        foreach (var (segment, counts) in other.Blocked)
        {
            BlockedOf(segment).Merge(counts);
        }

        for (var i = 0; i < Groups.Length; i++)
        {
            Groups[i].Merge(other.Groups[i]);
        }

        foreach (var (segment, ids) in other.WouldEnter)
        {
            Ids(WouldEnter, segment).Merge(ids);
        }

        foreach (var (segment, ids) in other.WouldLeave)
        {
            Ids(WouldLeave, segment).Merge(ids);
        }
    }

    internal static TValue GetOrAdd<TKey, TValue>(Dictionary<TKey, TValue> map, TKey key, Func<TValue> create)
        where TKey : notnull
    {
        if (!map.TryGetValue(key, out var value))
        {
            value = create();
            map.Add(key, value);
        }

        return value;
    }

    internal static void Add<TKey>(Dictionary<TKey, long> map, TKey key, long amount = 1)
        where TKey : notnull =>
        map[key] = map.GetValueOrDefault(key) + amount;

    internal static void Merge<TKey>(Dictionary<TKey, long> into, Dictionary<TKey, long> from)
        where TKey : notnull
    {
        foreach (var (key, amount) in from)
        {
            Add(into, key, amount);
        }
    }
}
